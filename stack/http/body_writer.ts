/**
 * Writing an HTTP/1.1 message (head + body) to a ConnLike, for the server's responses and the
 * client's requests.
 *
 * Framing (RFC 9112 §6): Content-Length when the body's size is known, else chunked, or (to an
 * HTTP/1.0 peer) delimited by closing the connection. A `Response`/`Request` hides its body's
 * size behind a stream, but a body made from a string, bytes or a Blob is already in memory and
 * its stream yields it at once: we read chunks while they arrive within a few microtasks; if the
 * stream ends that way, the size is known. A producing stream (SSE, a pipe) does not answer that
 * fast, so it goes chunked and its first chunk is not delayed.
 *
 * Throughput: output goes through one buffer, flushed when full or when the body source has
 * nothing ready; chunks larger than that are written straight from the source, without a copy.
 * The buffer starts at 4 KiB (a head and a small body: one allocation that stays in malloc's
 * small bins) and doubles up to 256 KiB when a bulk body needs it.
 */

import { type ConnLike, write_all } from "./conn_like.ts";

const OUT_SIZE = 256 * 1024;
const OUT_START = 4 * 1024;
/** Probing a body for its size reads at most this much ahead. */
const PROBE_LIMIT = 8 * 1024 * 1024;
const enc = new TextEncoder();

/** Whether `p` settles within a few microtasks (i.e. its value is already there). */
async function settles_soon(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => settled = true, () => settled = true);
  for (let i = 0; i < 16 && !settled; i++) await null;
  return settled;
}

/** Buffered writer: coalesces small pieces into big writes. */
export class Out {
  #conn: ConnLike;
  // Starts small: most messages are a head and a short body; grows up to OUT_SIZE for bulk ones.
  #buf = new Uint8Array(OUT_START);
  #len = 0;
  constructor(conn: ConnLike) {
    this.#conn = conn;
  }

  async add(p: Uint8Array): Promise<void> {
    const need = this.#len + p.length;
    if (need > this.#buf.length && this.#buf.length < OUT_SIZE) {
      let size = this.#buf.length * 2;
      while (size < need && size < OUT_SIZE) size *= 2;
      const bigger = new Uint8Array(Math.min(size, OUT_SIZE));
      bigger.set(this.#buf.subarray(0, this.#len));
      this.#buf = bigger;
    }
    if (this.#len + p.length <= this.#buf.length) {
      this.#buf.set(p, this.#len);
      this.#len += p.length;
      return;
    }
    await this.flush();
    if (p.length >= this.#buf.length) return write_all(this.#conn, p);
    this.#buf.set(p);
    this.#len = p.length;
  }

  addText(s: string): Promise<void> {
    // Heads are short: encode straight into the buffer when it fits.
    if (this.#len + s.length * 3 <= this.#buf.length) {
      this.#len += enc.encodeInto(s, this.#buf.subarray(this.#len)).written;
      return Promise.resolve();
    }
    return this.add(enc.encode(s));
  }

  async flush(): Promise<void> {
    if (this.#len === 0) return;
    const n = this.#len;
    this.#len = 0;
    await write_all(this.#conn, this.#buf.subarray(0, n));
  }
}

export interface ProbedBody {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Chunks already read. */
  chunks: Uint8Array[];
  /** Their total size. */
  size: number;
  /** The stream ended within the probe: `size` is the body's length. */
  done: boolean;
  /** A read started and not yet consumed (when not done). */
  next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
}

/** Read what a body stream has ready now, to learn its size when it is in memory. */
export async function probe_body(body: ReadableStream<Uint8Array>): Promise<ProbedBody> {
  const reader = body.getReader();
  const out: ProbedBody = { reader, chunks: [], size: 0, done: false, next: undefined };
  // The first chunk is always awaited: a handler's stream may take time to produce it.
  let r = await reader.read();
  for (;;) {
    if (r.done) {
      out.done = true;
      return out;
    }
    if (r.value.length > 0) {
      out.chunks.push(r.value);
      out.size += r.value.length;
    }
    const next = reader.read();
    // Stop probing when the stream has nothing ready, or reading ahead got too large.
    if (!(await settles_soon(next))) {
      out.next = next;
      return out;
    }
    r = await next;
    if (!r.done && out.size + r.value.length > PROBE_LIMIT) {
      out.chunks.push(r.value);
      out.size += r.value.length;
      out.next = reader.read();
      return out;
    }
  }
}

/**
 * Write the body after a head already in `out`: the probed chunks, then the rest of the stream.
 * `chunked` frames each piece (RFC 9112 §7.1). Flushes whenever the source has nothing ready, so
 * a slow stream's pieces go out at once. Cancels the source if writing fails.
 */
export async function write_body(out: Out, b: ProbedBody, chunked: boolean): Promise<void> {
  try {
    for (const c of b.chunks) await put(out, c, chunked);
    if (!b.done) {
      let next = b.next!;
      for (;;) {
        if (!(await settles_soon(next))) await out.flush();
        const r = await next;
        if (r.done) break;
        next = b.reader.read();
        if (r.value.length > 0) await put(out, r.value, chunked);
      }
    }
    if (chunked) await out.addText("0\r\n\r\n");
    await out.flush();
  } catch (e) {
    b.reader.cancel(e).catch(() => {});
    throw e;
  }
}

async function put(out: Out, c: Uint8Array, chunked: boolean): Promise<void> {
  if (chunked) await out.addText(c.length.toString(16) + "\r\n");
  await out.add(c);
  if (chunked) await out.addText("\r\n");
}

/** Field names a caller must not set: the framing and connection are ours (RFC 9110 §7.6.1). */
export function is_hop_by_hop(lower: string): boolean {
  return lower === "connection" || lower === "transfer-encoding" || lower === "keep-alive" ||
    lower === "content-length" || lower === "upgrade" || lower === "te" ||
    lower === "proxy-connection";
}

/** "Name: value\r\n" lines of `h`, without hop-by-hop fields; Set-Cookie kept separate. */
export function header_lines(h: Headers): string {
  let s = "";
  for (const [k, v] of h) {
    if (is_hop_by_hop(k)) continue;
    if (k === "set-cookie") continue;
    s += `${k}: ${v}\r\n`;
  }
  for (const c of h.getSetCookie()) s += `set-cookie: ${c}\r\n`;
  return s;
}
