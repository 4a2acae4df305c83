/**
 * HTTP/1.1 message reader over a ConnLike, on the maintained `http-parser-js` (RFC 9112 framing:
 * Content-Length, chunked, read-until-close).
 *
 * The parser is push-style and would run through several pipelined messages in one `execute`;
 * we need pull-style, one message at a time (the next request must wait for the previous
 * response), so the message-complete callback throws a private sentinel that stops `execute` at
 * the message boundary; the bytes after it stay in our read buffer for the next message. Body
 * bytes are parsed only when the body is pulled, so a slow consumer stops reading from the
 * connection (back-pressure) instead of buffering.
 *
 * Hardening on top of the parser (it is lenient): Content-Length must be digits; a request
 * with both Content-Length and Transfer-Encoding, or a Transfer-Encoding other than chunked, is
 * rejected (RFC 9112 §6.1, §6.3: request smuggling); a negative chunk size stops the parse
 * instead of moving the parser backwards; header bytes are bounded (431, RFC 6585 §5).
 */

import { Buffer } from "node:buffer";
import { HTTPParser } from "http-parser-js";
import type { ConnLike } from "./conn_like.ts";

/** A request or response that cannot be parsed; `status` is what a server answers. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface MessageHead {
  method: string;
  /** Request target as sent (origin-form "/a?b", or absolute-form). */
  url: string;
  versionMajor: number;
  versionMinor: number;
  statusCode: number;
  statusMessage: string;
  /** Flat [name, value, name, value…] as received. */
  headers: string[];
  shouldKeepAlive: boolean;
  upgrade: boolean;
  chunked: boolean;
  contentLength: number | undefined;
  /** Whether a body follows (chunked, Content-Length > 0, or read until close). */
  hasBody: boolean;
}

export interface ReaderOptions {
  maxHeaderBytes?: number;
  /** Largest read buffer (default 64 KiB); it starts at READ_START and grows on full reads. */
  bufferSize?: number;
}

/**
 * First read buffer size. A request or response head, and a small body, fit in one read of it;
 * the buffer doubles (up to `bufferSize`) only when a read fills it, i.e. for bulk bodies.
 * Zeroed allocations made per connection (this buffer at its full 64/256 KiB, the output buffer,
 * the TCP rings) were ~35 % of the CPU of an in-process small-request benchmark (V8 profile),
 * mostly page faults: big ones are fresh mmaps, and in a VM a page fault is expensive.
 */
const READ_START = 4 * 1024;

const PAUSE = { pause: true };

type Kind = "REQUEST" | "RESPONSE";

interface ParserInternals {
  state: string;
  line: string;
  offset: number;
  execute(chunk: Buffer, start: number, length: number): number | Error;
  finish(): void | Error;
  initialize(type: Kind): void;
  maxHeaderSize: number;
  [k: number]: unknown;
}

interface HeadInfo {
  versionMajor: number;
  versionMinor: number;
  headers: string[];
  method: number;
  url: string;
  statusCode: number;
  statusMessage: string;
  upgrade: boolean;
  shouldKeepAlive: boolean;
}

/** The header value of `name` (lower case) in a flat header list, or undefined. */
export function header_value(headers: string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].toLowerCase() === name) return headers[i + 1];
  }
  return undefined;
}

export class HttpReader {
  readonly maxHeaderBytes: number;
  #conn: ConnLike;
  #kind: Kind;
  #parser: ParserInternals;
  #buf: Uint8Array;
  #node: Buffer;
  readonly #bufMax: number;
  /** The last read filled the buffer: the next one gets a bigger one. */
  #growNext = false;
  #start = 0;
  #end = 0;
  #head: MessageHead | undefined;
  #skipBody = false;
  #body: Uint8Array[] = [];
  #done = false;
  #eof = false;
  /** Bytes of the current message fed to the parser (0: between messages). */
  #fed = 0;

  constructor(conn: ConnLike, kind: "request" | "response", opts: ReaderOptions = {}) {
    this.#conn = conn;
    this.#kind = kind === "request" ? "REQUEST" : "RESPONSE";
    this.maxHeaderBytes = opts.maxHeaderBytes ?? 16 * 1024;
    this.#bufMax = Math.max(opts.bufferSize ?? 64 * 1024, 1);
    this.#buf = new Uint8Array(Math.min(READ_START, this.#bufMax));
    this.#node = Buffer.from(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
    const p = new HTTPParser(this.#kind) as unknown as ParserInternals;
    this.#parser = p;
    p.maxHeaderSize = this.maxHeaderBytes;
    // Assign through the k* slots, not the on* setters: the setters switch the parser into a
    // legacy mode where `method` is a string.
    p[HTTPParser.kOnHeadersComplete] = (info: HeadInfo) => this.#onHead(info);
    p[HTTPParser.kOnBody] = (chunk: Buffer, _off: number, len: number) => {
      if (!(len >= 0)) throw new HttpError(400, "Invalid chunk size");
      if (len > 0) this.#body.push(new Uint8Array(chunk.buffer, chunk.byteOffset, len).slice());
    };
    p[HTTPParser.kOnMessageComplete] = () => {
      this.#done = true;
      throw PAUSE;
    };
    p[HTTPParser.kOnHeaders] = () => {}; // trailers (RFC 9112 §7.1.2) are dropped
  }

  /** The head of the message being read, once `readHead` returned it. */
  get head(): MessageHead | undefined {
    return this.#head;
  }

  /** Whether the current message's body has been read to its end. */
  get bodyDone(): boolean {
    return this.#done;
  }

  /** Bytes received and not parsed yet (pipelined requests). */
  get buffered(): number {
    return this.#end - this.#start;
  }

  #onHead(info: HeadInfo): number {
    const h = info.headers;
    let size = info.url ? info.url.length : 0;
    for (let i = 0; i < h.length; i++) size += h[i].length + 4;
    if (size > this.maxHeaderBytes) {
      throw new HttpError(431, `Header fields too large (${size} > ${this.maxHeaderBytes} bytes)`);
    }
    let contentLength: number | undefined;
    let te: string | undefined;
    for (let i = 0; i < h.length; i += 2) {
      const k = h[i].toLowerCase();
      if (k === "content-length") {
        const v = h[i + 1].trim();
        if (!/^\d{1,15}$/.test(v)) throw new HttpError(400, `Invalid Content-Length "${v}"`);
        contentLength = Number(v);
      } else if (k === "transfer-encoding") {
        te = te === undefined ? h[i + 1] : `${te}, ${h[i + 1]}`;
      }
    }
    const request = this.#kind === "REQUEST";
    let chunked = false;
    if (te !== undefined) {
      chunked = /(?:^|,)\s*chunked\s*$/i.test(te);
      if (request && (!chunked || te.trim().toLowerCase() !== "chunked")) {
        throw new HttpError(400, `Unsupported Transfer-Encoding "${te}"`);
      }
      if (request && contentLength !== undefined) {
        throw new HttpError(400, "Both Content-Length and Transfer-Encoding");
      }
    }
    const status = info.statusCode;
    const noBody = this.#skipBody ||
      (!request && ((status >= 100 && status < 200) || status === 204 || status === 304));
    const hasBody = !noBody &&
      (chunked || (contentLength ?? (request ? 0 : -1)) !== 0);
    this.#head = {
      method: request ? (HTTPParser.methods[info.method] ?? "GET") : "",
      url: info.url ?? "",
      versionMajor: info.versionMajor,
      versionMinor: info.versionMinor,
      statusCode: status ?? 0,
      statusMessage: info.statusMessage ?? "",
      headers: h,
      shouldKeepAlive: info.shouldKeepAlive,
      upgrade: info.upgrade,
      chunked,
      contentLength,
      hasBody,
    };
    return this.#skipBody ? 1 : 0;
  }

  /** Parse what is buffered; stops at a message boundary. */
  #feed(): void {
    const p = this.#parser;
    const start = this.#start;
    const len = this.#end - start;
    let r: number | Error;
    try {
      r = p.execute(this.#node, start, len);
    } catch (e) {
      if (e !== PAUSE) throw this.#fail(e);
      this.#start = p.offset;
      this.#fed += p.offset - start;
      p.initialize(this.#kind);
      return;
    }
    if (r instanceof Error) throw this.#fail(r);
    this.#start += r;
    this.#fed += r;
  }

  #fail(e: unknown): HttpError {
    this.#eof = true; // the stream cannot be resynchronised after a framing error
    if (e instanceof HttpError) return e;
    const msg = (e as Error)?.message ?? String(e);
    if (msg === "max header size exceeded") {
      return new HttpError(431, `Header fields too large (> ${this.maxHeaderBytes} bytes)`);
    }
    const code = (e as { code?: string })?.code;
    return new HttpError(400, `Malformed HTTP message${code ? ` (${code})` : ""}: ${msg}`);
  }

  /** Read more bytes into the (fully consumed) buffer; false at end of stream. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    this.#start = this.#end = 0;
    if (this.#growNext) {
      // The last read filled the buffer (a bulk body): double it, now that it is all consumed.
      this.#growNext = false;
      this.#buf = new Uint8Array(Math.min(this.#buf.length * 2, this.#bufMax));
      this.#node = Buffer.from(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
    }
    const n = await this.#conn.read(this.#buf);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end = n;
    this.#growNext = n === this.#buf.length && n < this.#bufMax;
    return true;
  }

  /**
   * The next message's head, or undefined at a clean end of stream between messages. The rest
   * of the previous message's body must have been read (`readBody` to null) first.
   * `skipBody`: the message has no body whatever its headers say (a response to HEAD).
   */
  async readHead(skipBody = false): Promise<MessageHead | undefined> {
    this.#head = undefined;
    this.#done = false;
    this.#body.length = 0;
    this.#fed = 0;
    this.#skipBody = skipBody;
    for (;;) {
      if (this.#start < this.#end) {
        this.#feed();
        if (this.#head !== undefined) return this.#head;
        continue;
      }
      if (!(await this.#fill())) {
        const p = this.#parser;
        if (this.#fed === 0 || (p.state.endsWith("_LINE") && p.line === "")) return undefined;
        throw new HttpError(400, "Connection closed inside a message head");
      }
    }
  }

  /** The next piece of the current body (a copy), or null at its end. */
  async readBody(): Promise<Uint8Array | null> {
    for (;;) {
      const b = this.#body.shift();
      if (b !== undefined) return b;
      if (this.#done || this.#head === undefined) return null;
      if (this.#start < this.#end) {
        this.#feed();
        continue;
      }
      if (!(await this.#fill())) {
        const p = this.#parser;
        if (p.state === "BODY_RAW") {
          // Read-until-close body (RFC 9112 §6.3 item 8): the close is its end.
          try {
            p.finish();
          } catch (e) {
            if (e !== PAUSE) throw e;
          }
          this.#done = true;
          continue;
        }
        throw new Deno.errors.UnexpectedEof("Connection closed inside a message body");
      }
    }
  }

  /** Read and drop the rest of the body, up to `limit` bytes; true when it ended. */
  async skipBody(limit: number): Promise<boolean> {
    let n = 0;
    while (n <= limit) {
      const b = await this.readBody();
      if (b === null) return true;
      n += b.length;
    }
    return false;
  }
}
