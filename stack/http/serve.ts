/**
 * HTTP/1.1 server over any stream of connections (a StackListener, a Deno.Listener): the
 * handler is a fetch-style `(Request) => Response`, so a Hono app runs as `serve(l, app.fetch)`.
 *
 * Per connection, requests are handled one after another (RFC 9112 §9.3.2: pipelined requests
 * are answered in order), with keep-alive per RFC 9112 §9.3. Request bodies are streamed (pulled
 * from the connection as the handler reads them); responses are written by body_writer.ts.
 * Errors never escape: a malformed request gets 400 (431 for huge headers) and the connection
 * closes; a handler exception becomes 500 through `onError`; I/O errors end that connection only.
 *
 * Idle keep-alive connections are closed after `idleTimeoutMs` (a real timer: this is the I/O
 * edge, not protocol code).
 */

import { close_quietly, type ConnLike, no_delay, write_all } from "./conn_like.ts";
import { header_lines, Out, probe_body, write_body } from "./body_writer.ts";
import { header_value, HttpError, HttpReader, type MessageHead } from "./parser.ts";
import { hostPort } from "../../core/host_port.ts";

export type Handler = (
  req: Request,
  info: { remoteAddr: Deno.Addr },
) => Response | Promise<Response>;

export interface ServeOptions {
  signal?: AbortSignal;
  /** Turns a handler exception into a response (default: log it, 500). */
  onError?: (e: unknown) => Response | Promise<Response>;
  /** Close a keep-alive connection idle this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Bound on the request line and header fields (default 16 KiB); beyond it: 431. */
  maxHeaderBytes?: number;
}

export interface HttpServer {
  /** Resolves when the server stopped and every connection ended. */
  finished: Promise<void>;
  /** Stop accepting, let in-flight requests finish, close idle connections. */
  shutdown(): Promise<void>;
}

/** Request bodies left unread by the handler are drained up to this, else the conn closes. */
const DRAIN_LIMIT = 256 * 1024;

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

const UNKNOWN_ADDR: Deno.NetAddr = { transport: "tcp", hostname: "0.0.0.0", port: 0 };

let date_cache = "";
let date_sec = -1;
/** RFC 9110 §6.6.1: an origin server with a clock sends Date; formatted once a second. */
function http_date(): string {
  const s = Math.floor(Date.now() / 1000);
  if (s !== date_sec) {
    date_sec = s;
    date_cache = new Date(s * 1000).toUTCString();
  }
  return date_cache;
}

function default_on_error(e: unknown): Response {
  console.error("[http] handler error:", e);
  return new Response("Internal Server Error", { status: 500 });
}

function host_of(addr: Deno.Addr | undefined): string {
  if (addr && "hostname" in addr) {
    return hostPort(addr.hostname, addr.port);
  }
  return "localhost";
}

export function serve(
  listener: AsyncIterable<ConnLike>,
  handler: Handler,
  opts: ServeOptions = {},
): HttpServer {
  const onError = opts.onError ?? default_on_error;
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const conns = new Map<ConnLike, { busy: boolean }>();
  const tasks = new Set<Promise<void>>();
  let stopping = false;
  let stop!: () => void;
  const stopped = new Promise<"stop">((r) => stop = () => r("stop"));

  const begin_stop = () => {
    if (stopping) return;
    stopping = true;
    stop();
    const l = listener as { close?: () => void };
    if (typeof l.close === "function") {
      try {
        l.close();
      } catch { /* already closed */ }
    }
    for (const [c, s] of conns) if (!s.busy) close_quietly(c);
  };
  opts.signal?.addEventListener("abort", begin_stop, { once: true });
  if (opts.signal?.aborted) begin_stop();

  const accept_loop = async () => {
    const it = listener[Symbol.asyncIterator]();
    try {
      while (!stopping) {
        const r = await Promise.race([it.next(), stopped]);
        if (r === "stop" || r.done) break;
        const conn = r.value;
        if (stopping) {
          close_quietly(conn);
          break;
        }
        no_delay(conn);
        const t = handle_conn(conn).finally(() => tasks.delete(t));
        tasks.add(t);
      }
    } catch (e) {
      if (!stopping) console.error("[http] accept failed:", e);
    }
    begin_stop();
    while (tasks.size > 0) await Promise.all(tasks);
  };

  async function handle_conn(conn: ConnLike): Promise<void> {
    const state = { busy: false };
    conns.set(conn, state);
    const reader = new HttpReader(conn, "request", { maxHeaderBytes: opts.maxHeaderBytes });
    const out = new Out(conn);
    const remoteAddr = conn.remoteAddr ?? UNKNOWN_ADDR;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      for (;;) {
        if (stopping) break;
        if (idleMs > 0 && reader.buffered === 0) {
          timer = setTimeout(() => close_quietly(conn), idleMs);
        }
        let head: MessageHead | undefined;
        try {
          head = await reader.readHead();
        } finally {
          clearTimeout(timer);
        }
        if (head === undefined) break;
        state.busy = true;
        const keep = await handle_request(conn, reader, out, head, remoteAddr);
        state.busy = false;
        if (!keep || stopping) break;
      }
    } catch (e) {
      if (e instanceof HttpError) {
        const body = `${e.message}\n`;
        await out.addText(
          `HTTP/1.1 ${e.status} ${REASONS[e.status]}\r\nconnection: close\r\n` +
            `content-type: text/plain; charset=utf-8\r\n` +
            `content-length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`,
        ).then(() => out.flush()).catch(() => {});
      }
      // Other errors are the connection's (reset, closed by the idle timer): it just ends.
    } finally {
      conns.delete(conn);
      close_quietly(conn);
    }
  }

  /** One request/response exchange; true when the connection may carry another. */
  async function handle_request(
    conn: ConnLike,
    reader: HttpReader,
    out: Out,
    head: MessageHead,
    remoteAddr: Deno.Addr,
  ): Promise<boolean> {
    const http11 = head.versionMajor === 1 && head.versionMinor >= 1;
    const host = header_value(head.headers, "host");
    // RFC 9112 §3.2: a 1.1 request without Host is answered 400.
    if (http11 && host === undefined) throw new HttpError(400, "Missing Host header");
    const target = head.url;
    const url = /^https?:\/\//i.test(target)
      ? target
      : `http://${host || host_of(conn.localAddr)}${
        target.startsWith("/") ? target : "/" + target
      }`;
    const headers = new Headers();
    const h = head.headers;
    let req: Request;
    let expect_continue = http11 &&
      (header_value(h, "expect") ?? "").toLowerCase() === "100-continue";
    let body_started = false;
    let body: ReadableStream<Uint8Array> | null = null;
    try {
      for (let i = 0; i < h.length; i += 2) headers.append(h[i], h[i + 1]);
      const method = head.method;
      if (head.hasBody && method !== "GET" && method !== "HEAD") {
        body = new ReadableStream<Uint8Array>({
          pull: async (c) => {
            if (expect_continue && !body_started) {
              // RFC 9110 §10.1.1: the client waits for this before sending the body.
              expect_continue = false;
              await write_all(conn, new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n"));
            }
            body_started = true;
            const b = await reader.readBody();
            if (b === null) c.close();
            else c.enqueue(b);
          },
        }, { highWaterMark: 0 });
      }
      req = new Request(url, { method, headers, body, duplex: "half" } as RequestInit);
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(400, `Invalid request: ${(e as Error).message}`);
    }

    let res: Response;
    try {
      res = await handler(req, { remoteAddr });
      if (!(res instanceof Response)) throw new TypeError("The handler did not return a Response");
    } catch (e) {
      try {
        res = await onError(e);
      } catch (e2) {
        res = default_on_error(e2);
      }
    }

    // The client may not send a body it was not asked for (100-continue never sent): then the
    // connection cannot be reused.
    let keep = head.shouldKeepAlive && !stopping && !(expect_continue && !body_started);
    const res_conn = res.headers.get("connection");
    if (res_conn && /\bclose\b/i.test(res_conn)) keep = false;
    await write_response(out, res, head, http11, keep).then((k) => {
      keep = k;
    });
    if (keep && !reader.bodyDone && head.hasBody) keep = await reader.skipBody(DRAIN_LIMIT);
    return keep;
  }

  /** Write `res`; returns whether the connection stays open (close-delimited bodies end it). */
  async function write_response(
    out: Out,
    res: Response,
    head: MessageHead,
    http11: boolean,
    keep: boolean,
  ): Promise<boolean> {
    const status = res.status;
    let s = `HTTP/1.1 ${status} ${res.statusText || REASONS[status] || "Unknown"}\r\n`;
    s += header_lines(res.headers);
    if (!res.headers.has("date")) s += `date: ${http_date()}\r\n`;
    const is_head = head.method === "HEAD";
    const no_body = status === 204 || status === 304 || (status >= 100 && status < 200);
    if (no_body || res.body === null) {
      res.body?.cancel().catch(() => {});
      if (!no_body) s += "content-length: 0\r\n";
      s += keep ? (http11 ? "" : "connection: keep-alive\r\n") : "connection: close\r\n";
      await out.addText(s + "\r\n");
      await out.flush();
      return keep;
    }
    const declared = res.headers.get("content-length");
    const b = await probe_body(res.body);
    let chunked = false;
    if (b.done) {
      s += `content-length: ${b.size}\r\n`;
    } else if (declared !== null && /^\d+$/.test(declared)) {
      s += `content-length: ${declared}\r\n`;
    } else if (http11) {
      s += "transfer-encoding: chunked\r\n";
      chunked = true;
    } else {
      keep = false; // HTTP/1.0: the close delimits the body (RFC 9112 §6.3)
    }
    s += keep ? (http11 ? "" : "connection: keep-alive\r\n") : "connection: close\r\n";
    await out.addText(s + "\r\n");
    if (is_head) {
      b.reader.cancel().catch(() => {});
      await out.flush();
      return keep;
    }
    await write_body(out, b, chunked && !is_head);
    return keep;
  }

  const finished = accept_loop();
  return {
    finished,
    shutdown: () => {
      begin_stop();
      return finished;
    },
  };
}
