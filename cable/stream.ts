/**
 * An endpoint over a byte stream (pipe, stdio, TCP, unix stream) with length-prefixed frames.
 *
 * Reading: one `await read()` into the decoder's buffer per batch of frames, never per frame
 * (an awaited call costs ~4 µs here, ARCHITECTURE §4). Writing: frames are batched and written
 * once per event-loop turn; while a write is in flight the next batch fills, and when that is full
 * frames are dropped and counted as `queueFull`, so a stalled peer never grows memory.
 */

import { EndpointBase } from "../core/endpoint_base.ts";
import { FrameBatcher, FrameDecoder, type HeaderBytes } from "./framing.ts";

export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

export interface StreamOptions {
  headerBytes: HeaderBytes;
  /** Largest frame accepted in either direction. */
  mtu: number;
  /** Called once when the endpoint closes, to release the streams. */
  onClose?: () => void;
  /** Reports why the stream ended when it was not a plain close/EOF. */
  onError?: (message: string) => void;
  /**
   * Keepalive interval (weft cables): a zero-length record is sent after this long without
   * sending, and the peer is given up after three intervals without receiving anything. Zero-length
   * records are then keepalives, not drops.
   */
  keepaliveMs?: number;
}

export class StreamEndpoint extends EndpointBase {
  #decoder: FrameDecoder;
  #batcher: FrameBatcher;
  #writing = false;
  #flushQueued = false;
  #lastRx = performance.now();
  #lastTx = performance.now();
  #keepalive: ReturnType<typeof setInterval> | undefined;

  constructor(
    url: string,
    readonly reader: ByteReader,
    readonly writer: ByteWriter,
    readonly options: StreamOptions,
  ) {
    super(url, options.mtu);
    this.#decoder = new FrameDecoder(
      options.headerBytes,
      // The 2-byte field cannot say more than 65535; accept what the field can carry up to mtu.
      options.mtu,
      (f) => this.deliver(f),
      (reason) => {
        if (reason !== "empty" || options.keepaliveMs === undefined) this.counters.drop(reason);
      },
    );
    this.#batcher = new FrameBatcher(options.headerBytes);
    if (options.keepaliveMs !== undefined) this.#startKeepalive(options.keepaliveMs);
    this.#readLoop();
  }

  #startKeepalive(ms: number): void {
    this.#keepalive = setInterval(() => {
      const now = performance.now();
      if (now - this.#lastRx > 3 * ms) {
        this.options.onError?.(`nothing received for ${Math.round((now - this.#lastRx) / 1000)} s`);
        this.close();
      } else if (now - this.#lastTx >= ms && this.#batcher.push(new Uint8Array(0))) {
        this.#scheduleFlush();
      }
    }, Math.max(10, ms / 2));
  }

  #scheduleFlush(): void {
    if (!this.#flushQueued && !this.#writing) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  async #readLoop(): Promise<void> {
    const d = this.#decoder;
    try {
      while (!this.isClosed) {
        const n = await this.reader.read(d.space());
        this.#lastRx = performance.now();
        if (n === null) {
          if (d.pending > 0) {
            // The peer ended mid-frame: that frame is lost, and it is said so.
            this.counters.drop("truncated");
            this.options.onError?.(`stream ended inside a frame (${d.pending} bytes lost)`);
          }
          break;
        }
        const err = d.commit(n);
        if (err) {
          this.counters.drop(err.reason);
          this.options.onError?.(
            `frame length ${err.length} exceeds the maximum ${this.mtu}: stream closed`,
          );
          break;
        }
      }
    } catch (e) {
      if (!this.isClosed) this.options.onError?.(e instanceof Error ? e.message : String(e));
    }
    this.close();
  }

  send(frame: Uint8Array): boolean {
    const c = this.counters;
    const why = this.unfit(frame.length);
    if (why) return c.drop(why);
    if (!this.#batcher.push(frame)) return c.drop("queueFull");
    c.countOut(frame.length);
    this.#scheduleFlush();
    return true;
  }

  async #flush(): Promise<void> {
    this.#flushQueued = false;
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#batcher.size > 0 && !this.isClosed) {
        const chunk = this.#batcher.take();
        for (let off = 0; off < chunk.length;) off += await this.writer.write(chunk.subarray(off));
        this.#lastTx = performance.now();
      }
    } catch (e) {
      if (!this.isClosed) this.options.onError?.(e instanceof Error ? e.message : String(e));
      this.close();
    } finally {
      this.#writing = false;
    }
  }

  /** Resolves when everything queued so far has been written (for clean shutdowns and tests). */
  async drain(): Promise<void> {
    for (let i = 0; i < 1000 && (this.#writing || this.#batcher.size > 0); i++) {
      if (!this.#writing) await this.#flush();
      else await new Promise((r) => setTimeout(r, 1));
    }
  }

  protected closeResources(): void {
    clearInterval(this.#keepalive);
    // Frames accepted but never written are lost with the stream: say so.
    if (this.#batcher.frames > 0) this.counters.drop("closed", this.#batcher.frames);
    this.options.onClose?.();
  }
}
