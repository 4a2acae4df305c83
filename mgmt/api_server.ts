/**
 * Serving the management app on a socket: `--api ADDR:PORT` (default 127.0.0.1:7780) or
 * `--api none`. Only loopback binds are accepted for now: the API is plain HTTP with a bearer
 * token, which must not cross a network in clear. HTTPS with the node identity (for binds beyond
 * loopback) is a later slice of issue 7.
 */

import { ConfigError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";

export const DEFAULT_API = "127.0.0.1:7780";

export interface ApiAddress {
  hostname: string;
  port: number;
}

/** Parse `HOST:PORT` (`[::1]:PORT` for IPv6) or `none` (→ undefined). Loopback hosts only. */
export function parseApiAddress(text: string): ApiAddress | undefined {
  if (text === "none") return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ConfigError(
      `Invalid --api "${text}": expected HOST:PORT (e.g. 127.0.0.1:7780, [::1]:7780) or none`,
    );
  }
  const hostname = m[1] ?? m[2];
  if (!isLoopback(hostname)) {
    throw new ConfigError(
      `Refusing --api "${text}": the API is served over plain HTTP, so only loopback addresses ` +
        `(127.0.0.0/8, ::1, localhost) are allowed; HTTPS for other addresses is not there yet ` +
        `(reach a remote node through ssh -L meanwhile)`,
    );
  }
  return { hostname, port };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface ApiServer {
  /** `http://HOST:PORT` with the bound port (after `:0`). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Listen on `addr` with `fetch` as the handler. Throws Deno.errors.AddrInUse (and other bind
 * errors) synchronously from here, so the caller decides what a taken port means.
 */
export function serveApi(
  addr: ApiAddress,
  fetch: (req: Request) => Response | Promise<Response>,
  logger: Logger,
): ApiServer {
  const server = Deno.serve({
    hostname: addr.hostname,
    port: addr.port,
    onListen: () => {},
    onError: (e) => {
      logger.log("error", "api request failed", { error: String(e) });
      return Response.json({ error: "Internal error (logged on the node)" }, { status: 500 });
    },
  }, fetch);
  const a = server.addr as Deno.NetAddr;
  const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
  return {
    url: `http://${host}:${a.port}`,
    close: () => server.shutdown(),
  };
}
