/**
 * `fetch` over a caller-supplied connection (a stack's `connect`, or `Deno.connect`): HTTP/1.1,
 * one request per connection (`Connection: close`, no pooling), the response body streamed from
 * the connection as it is read.
 *
 * Semantics that differ from `fetch`: only `http:` (TLS over the stack is not there yet);
 * redirects are not followed (as `redirect: "manual"`, but the 3xx response is returned as is,
 * not as an opaque one); no cookies, cache, CORS or decompression; `response.url` is empty.
 */

import { close_quietly, type ConnLike, no_delay } from "./conn_like.ts";
import { header_lines, Out, probe_body, write_body } from "./body_writer.ts";
import { HttpReader, type MessageHead } from "./parser.ts";

export type Dial = (hostname: string, port: number) => Promise<ConnLike>;

/** How long a finished connection waits for the server's FIN before closing anyway. */
const LINGER_MS = 1000;

/**
 * Close a connection whose response was read to its end. We sent `connection: close`, so the
 * server closes it right after the response (RFC 9112 §9.6); closing once its FIN is in (or
 * after LINGER_MS) makes our FIN carry the ACK of its FIN and leaves TIME-WAIT with the server:
 * three frames to close instead of four when both FINs cross, and no client port held for 2 MSL
 * per request. The response is already delivered: this happens in the background.
 */
function close_after_server(conn: ConnLike): void {
  const timer = setTimeout(() => close_quietly(conn), LINGER_MS);
  try {
    Deno.unrefTimer(timer);
  } catch { /* not Deno: the timer just runs */ }
  const done = () => {
    clearTimeout(timer);
    close_quietly(conn);
  };
  // Anything but the end of the stream (stray bytes) also ends the wait: close() then resets.
  conn.read(new Uint8Array(1)).then(done, done);
}

export async function fetchVia(
  dial: Dial,
  input: string | URL | Request,
  init?: RequestInit,
): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : input);
  if (url.protocol === "https:") {
    throw new TypeError(`Cannot fetch "${url.href}": TLS over the stack is not supported yet`);
  }
  if (url.protocol !== "http:") {
    throw new TypeError(`Cannot fetch "${url.href}": only http: URLs are supported`);
  }
  const req = new Request(input, init);
  const signal = req.signal;
  signal.throwIfAborted();
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? 80 : Number(url.port);
  const conn = await dial(hostname, port);
  no_delay(conn);
  const on_abort = () => close_quietly(conn);
  signal.addEventListener("abort", on_abort, { once: true });
  let handed_over = false;
  try {
    if (signal.aborted) throw signal.reason;
    const out = new Out(conn);
    let s = `${req.method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
    s += header_lines(req.headers);
    if (!req.headers.has("accept")) s += "accept: */*\r\n";
    s += "connection: close\r\n";
    let writing: Promise<void>;
    if (req.body === null) {
      if (req.method === "POST" || req.method === "PUT" || req.method === "PATCH") {
        s += "content-length: 0\r\n";
      }
      await out.addText(s + "\r\n");
      writing = out.flush();
    } else {
      const b = await probe_body(req.body);
      s += b.done ? `content-length: ${b.size}\r\n` : "transfer-encoding: chunked\r\n";
      await out.addText(s + "\r\n");
      writing = write_body(out, b, !b.done);
    }
    // The body goes out while the response is awaited: a server may answer before reading it.
    let write_error: unknown;
    writing = writing.catch((e) => {
      write_error = e;
    });

    const reader = new HttpReader(conn, "response", {
      maxHeaderBytes: 64 * 1024,
      bufferSize: 256 * 1024,
    });
    const is_head = req.method === "HEAD";
    let head: MessageHead | undefined;
    for (;;) {
      head = await reader.readHead(is_head);
      if (head === undefined) {
        await writing;
        throw write_error ?? new Deno.errors.UnexpectedEof(
          `Connection closed before a response from ${url.host}`,
        );
      }
      // Interim 1xx responses (RFC 9110 §15.2) are skipped; 101 would need an upgrade.
      if (head.statusCode >= 200) break;
      if (head.statusCode === 101) throw new TypeError("HTTP upgrade (101) is not supported");
    }
    const headers = new Headers();
    const h = head.headers;
    for (let i = 0; i < h.length; i += 2) {
      try {
        headers.append(h[i], h[i + 1]);
      } catch {
        // a field Headers cannot hold is dropped, as browsers do
      }
    }
    let body: ReadableStream<Uint8Array> | null = null;
    if (head.hasBody) {
      body = new ReadableStream<Uint8Array>({
        pull: async (c) => {
          try {
            const b = await reader.readBody();
            if (b === null) {
              c.close();
              signal.removeEventListener("abort", on_abort);
              close_after_server(conn);
            } else {
              c.enqueue(b);
            }
          } catch (e) {
            signal.removeEventListener("abort", on_abort);
            close_quietly(conn);
            c.error(signal.aborted ? signal.reason : e);
          }
        },
        cancel: () => {
          signal.removeEventListener("abort", on_abort);
          close_quietly(conn);
        },
      }, { highWaterMark: 0 });
      handed_over = true;
    }
    return new Response(body, {
      status: head.statusCode,
      statusText: head.statusMessage,
      headers,
    });
  } catch (e) {
    throw signal.aborted ? signal.reason : e;
  } finally {
    if (!handed_over) {
      signal.removeEventListener("abort", on_abort);
      close_quietly(conn);
    }
  }
}
