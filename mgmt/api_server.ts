/**
 * Serving the management app on a socket: `--api ADDR:PORT` (default 127.0.0.1:7780) or
 * `--api none`. On loopback the API is plain HTTP (the token never leaves the host). Bound to any
 * other address (`0.0.0.0:7780`, a LAN address) it is HTTPS with the node identity
 * (cable/identity.ts, ECDSA P-256, self-signed): the bearer token must not cross a network in
 * clear, and clients pin the certificate by the fingerprint `weft id` prints
 * (`weft ctl --api https://HOST:PORT --fp sha256:…`), as for tls:// cables.
 */

import { ConfigError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { hostPort } from "../core/host_port.ts";

export const DEFAULT_API = "127.0.0.1:7780";

export interface ApiAddress {
  hostname: string;
  port: number;
  /** Whether the API is served over HTTPS (every bind beyond loopback). */
  tls: boolean;
}

/** Parse `HOST:PORT` (`[::1]:PORT` for IPv6) or `none` (→ undefined). */
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
  return { hostname, port, tls: !isLoopback(hostname) };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface ApiServer {
  /** `http://HOST:PORT` or `https://HOST:PORT` with the bound port (after `:0`). */
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
  tls?: { certPem: string; keyPem: string },
): ApiServer {
  if (addr.tls && !tls) {
    throw new ConfigError(`The API on ${addr.hostname} needs the node identity for HTTPS`);
  }
  const server = Deno.serve({
    hostname: addr.hostname,
    port: addr.port,
    ...(addr.tls && tls ? { cert: tls.certPem, key: tls.keyPem } : {}),
    onListen: () => {},
    onError: (e) => {
      logger.log("error", "api request failed", { error: String(e) });
      return Response.json({ error: "Internal error (logged on the node)" }, { status: 500 });
    },
  }, fetch);
  const a = server.addr as Deno.NetAddr;
  return {
    url: `${addr.tls ? "https" : "http"}://${hostPort(a.hostname, a.port)}`,
    close: () => server.shutdown(),
  };
}
