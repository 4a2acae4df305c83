/**
 * The management API from the client side (`weft ctl`, `weft export`, `weft apply`): which node,
 * which token, and one request at a time.
 *
 * - `http://…` (loopback nodes) goes through fetch.
 * - `https://HOST:PORT` needs the node's certificate pin (`--fp sha256:…`, what `weft id` prints
 *   on that node): the node's certificate is self-signed, so there is no CA to trust; as with SSH
 *   host keys the pin is the trust. The TLS handshake is done with `node:tls` without CA checks
 *   (Deno's fetch cannot pin a certificate), the peer certificate's SHA-256 is compared with the
 *   pin, and only when it matches is the request — with the bearer token — written. A mismatch
 *   closes the connection having sent nothing but the handshake.
 */

import { fingerprintOf, parseFingerprint } from "../../cable/identity.ts";
import { ConfigError, UsageError } from "../../core/errors.ts";
import type { OptionSpec, ParsedArgs } from "./command.ts";
import { stateDirOf, stringOpt } from "./command.ts";

export const DEFAULT_API_URL = "http://127.0.0.1:7780";

/** Options every API client command shares. */
export const CLIENT_OPTIONS: Record<string, OptionSpec> = {
  api: {
    type: "string",
    value: "URL",
    help: `The API: ${DEFAULT_API_URL} (default) or https://HOST:PORT with --fp`,
  },
  fp: {
    type: "string",
    value: "sha256:HEX",
    help: "The node's certificate pin for https:// (weft id on that node prints it)",
  },
  "token-file": {
    type: "string",
    value: "FILE",
    help: "Read the API token from FILE (default $WEFT_TOKEN, else STATE/api.token)",
  },
};

/** Refused before any byte of the request was sent: the server is not the pinned node. */
export class PinMismatchError extends Error {
  override name = "PinMismatchError";
}

export interface ApiTarget {
  /** `http://HOST:PORT` or `https://HOST:PORT`, no trailing slash. */
  base: string;
  /** The pin, for https. */
  fp?: string;
  token: string;
}

export interface ApiReply {
  status: number;
  text: string;
}

/** The token: --token-file, else $WEFT_TOKEN, else STATE/api.token. */
export async function tokenOf(stateDir: string, tokenFile?: string): Promise<string> {
  if (tokenFile !== undefined) {
    try {
      const t = (await Deno.readTextFile(tokenFile)).trim();
      if (t) return t;
    } catch (e) {
      throw new ConfigError(`Cannot read --token-file "${tokenFile}": ${(e as Error).message}`);
    }
    throw new ConfigError(`--token-file "${tokenFile}" is empty`);
  }
  const env = Deno.env.get("WEFT_TOKEN");
  if (env) return env;
  try {
    return (await Deno.readTextFile(`${stateDir}/api.token`)).trim();
  } catch {
    throw new ConfigError(
      `No API token: set WEFT_TOKEN, pass --token-file, or run where ${stateDir}/api.token ` +
        `exists (--state DIR)`,
    );
  }
}

/** `--api`, `--fp`, `--token-file`/`$WEFT_TOKEN`/`--state` → a target; bad values: UsageError. */
export async function targetOf(command: string, p: ParsedArgs): Promise<ApiTarget> {
  const base = (stringOpt(p, "api") ?? DEFAULT_API_URL).replace(/\/+$/, "");
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new UsageError(
      `weft ${command}: --api "${base}": expected http://HOST:PORT or https://…`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`weft ${command}: --api "${base}": expected http:// or https://`);
  }
  const fpText = stringOpt(p, "fp");
  let fp: string | undefined;
  if (fpText !== undefined) {
    fp = parseFingerprint(fpText);
    if (!fp) {
      throw new UsageError(`weft ${command}: --fp "${fpText}": expected sha256:64 hex digits`);
    }
  }
  if (url.protocol === "https:" && fp === undefined) {
    throw new UsageError(
      `weft ${command}: --api "${base}" is https: give the node's pin with --fp sha256:… ` +
        `(weft id on that node prints it)`,
    );
  }
  const token = await tokenOf(stateDirOf(p), stringOpt(p, "token-file"));
  return { base, fp, token };
}

/** One request. Network failures throw (the caller says "no answer"); HTTP errors are replies. */
export async function apiRequest(
  t: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<ApiReply> {
  const json = body === undefined ? undefined : JSON.stringify(body);
  if (t.base.startsWith("https:")) return await pinnedRequest(t, method, path, json, timeoutMs);
  const res = await fetch(`${t.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${t.token}`,
      ...(json === undefined ? {} : { "content-type": "application/json" }),
    },
    body: json,
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, text: await res.text() };
}

/** The `{ error }` of an API reply, or its text. */
export function errorOf(r: ApiReply): string {
  try {
    return JSON.parse(r.text).error ?? r.text;
  } catch {
    return r.text;
  }
}

async function pinnedRequest(
  t: ApiTarget,
  method: string,
  path: string,
  json: string | undefined,
  timeoutMs: number,
): Promise<ApiReply> {
  const url = new URL(t.base);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || 443);
  const tls = await import("node:tls");
  const isIp = /^[\d.]+$/.test(host) || host.includes(":");
  const socket = tls.connect({
    host,
    port,
    rejectUnauthorized: false, // the pin below is the trust, not a CA
    ...(isIp ? {} : { servername: host }),
  });
  const chunks: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const ended = new Promise<void>((resolve, reject) => {
      socket.on("data", (d: Uint8Array) => chunks.push(new Uint8Array(d)));
      socket.on("end", () => resolve());
      socket.on("close", () => resolve());
      socket.on("error", (e: Error) => reject(e));
    });
    ended.catch(() => {});
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Deno.errors.TimedOut(`No answer from ${t.base} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    await Promise.race([
      new Promise<void>((resolve) => socket.once("secureConnect", () => resolve())),
      ended.then(() => {
        throw new Deno.errors.ConnectionReset(`${t.base} closed the connection`);
      }),
      timeout,
    ]);
    const der = socket.getPeerCertificate(true)?.raw as Uint8Array | undefined;
    const got = der ? await fingerprintOf(new Uint8Array(der)) : "none";
    if (got !== t.fp) {
      throw new PinMismatchError(
        `${t.base} presented certificate ${got}, not the pinned ${t.fp}: refusing to send the ` +
          `token (check --fp against weft id on that node)`,
      );
    }
    const bodyBytes = json === undefined ? undefined : new TextEncoder().encode(json);
    const head = [
      `${method} ${path} HTTP/1.1`,
      `Host: ${url.host}`,
      `Authorization: Bearer ${t.token}`,
      "Connection: close",
      ...(bodyBytes
        ? ["Content-Type: application/json", `Content-Length: ${bodyBytes.length}`]
        : method === "GET" || method === "DELETE"
        ? []
        : ["Content-Length: 0"]),
      "",
      "",
    ].join("\r\n");
    socket.write(new TextEncoder().encode(head));
    if (bodyBytes) socket.write(bodyBytes);
    await Promise.race([ended, timeout]);
    return parseHttpResponse(concat(chunks));
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

/** An HTTP/1.1 response read to the end of the connection: status and body (RFC 9112 §6, §7.1). */
export function parseHttpResponse(bytes: Uint8Array): ApiReply {
  const text = new TextDecoder().decode(bytes);
  const end = text.indexOf("\r\n\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (end < 0 || !m) throw new Deno.errors.InvalidData("Not an HTTP response from the API");
  const headers = text.slice(0, end).toLowerCase();
  let body = text.slice(end + 4);
  if (/^transfer-encoding:.*chunked/m.test(headers)) {
    let out = "";
    let rest = body;
    for (;;) {
      const nl = rest.indexOf("\r\n");
      const size = nl < 0 ? NaN : parseInt(rest.slice(0, nl), 16);
      if (!(size > 0)) break;
      // Sizes count bytes: slice on bytes, not UTF-16 units.
      const data = new TextEncoder().encode(rest.slice(nl + 2));
      out += new TextDecoder().decode(data.subarray(0, size));
      rest = new TextDecoder().decode(data.subarray(size + 2));
    }
    body = out;
  }
  return { status: Number(m[1]), text: body };
}
