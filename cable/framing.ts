/**
 * Length-prefixed frame streams: vde_plug's 2-byte big-endian length (PROTOCOLS §2) and QEMU's
 * 4-byte big-endian length (PROTOCOLS §3, also passt and gvproxy).
 *
 * The decoder owns one large buffer: the reader reads straight into its free tail, the decoder
 * walks the length prefixes and hands each frame to the sink as a borrowed `subarray`. A split
 * header or partial frame stays in the buffer and is completed by the next read (vdeplug4's
 * receive loop loses sync on a 1+1 split header; this one does not).
 */

import { MIN_FRAME } from "../core/endpoint.ts";

export type HeaderBytes = 2 | 4;

/** Why the decoder stopped: the stream cannot be resynchronised after a bad length. */
export type DecodeError = { reason: "badLength"; length: number };

export class FrameDecoder {
  readonly buffer: Uint8Array;
  #start = 0;
  #end = 0;

  constructor(
    readonly headerBytes: HeaderBytes,
    readonly maxFrame: number,
    /** Receives each complete frame (borrowed). */
    readonly onFrame: (frame: Uint8Array) => void,
    /** Counts frames skipped without losing sync (zero length, shorter than a header). */
    readonly onSkip: (reason: string) => void,
    bufferSize = 512 * 1024,
  ) {
    this.buffer = new Uint8Array(Math.max(bufferSize, 2 * (maxFrame + headerBytes)));
  }

  /** The free tail to read into; compacts the pending partial frame to the front first. */
  space(): Uint8Array {
    if (this.#start > 0 && this.buffer.length - this.#end < this.maxFrame + this.headerBytes) {
      this.buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    return this.buffer.subarray(this.#end);
  }

  /** `n` bytes were read into `space()`: deliver every complete frame. */
  commit(n: number): DecodeError | undefined {
    this.#end += n;
    const b = this.buffer;
    const h = this.headerBytes;
    let p = this.#start;
    const end = this.#end;
    while (end - p >= h) {
      const len = h === 2
        ? (b[p] << 8) | b[p + 1]
        : ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      if (len > this.maxFrame) {
        this.#start = p;
        return { reason: "badLength", length: len };
      }
      if (end - p - h < len) break;
      const frame = b.subarray(p + h, p + h + len);
      p += h + len;
      // vdeplug4 skips zero lengths; anything shorter than an Ethernet header cannot be a frame.
      if (len === 0) this.onSkip("empty");
      else if (len < MIN_FRAME) this.onSkip("runt");
      else this.onFrame(frame);
    }
    if (p === end) p = this.#end = 0;
    this.#start = p;
    return undefined;
  }

  /** Bytes of an incomplete frame waiting for more input. */
  get pending(): number {
    return this.#end - this.#start;
  }
}

/**
 * Collects outgoing frames with their length prefixes into a buffer that is written with one
 * call per event-loop turn. Two buffers alternate: one is being written while the other fills,
 * so a slow writer costs memory up to two buffers and then drops (counted by the caller).
 */
export class FrameBatcher {
  #fill: Uint8Array;
  #spare: Uint8Array;
  #used = 0;
  /** Frames in the filling buffer. */
  frames = 0;

  constructor(readonly headerBytes: HeaderBytes, bufferSize = 1024 * 1024) {
    this.#fill = new Uint8Array(bufferSize);
    this.#spare = new Uint8Array(bufferSize);
  }

  /** Append a frame; false when the buffer is full. */
  push(frame: Uint8Array): boolean {
    const h = this.headerBytes;
    const len = frame.length;
    if (this.#used + h + len > this.#fill.length) return false;
    const b = this.#fill;
    let p = this.#used;
    if (h === 4) {
      b[p++] = len >>> 24;
      b[p++] = (len >>> 16) & 0xff;
    }
    b[p++] = (len >>> 8) & 0xff;
    b[p++] = len & 0xff;
    b.set(frame, p);
    this.#used = p + len;
    if (len > 0) this.frames++;
    return true;
  }

  get size(): number {
    return this.#used;
  }

  /** Take the filled bytes for writing; the next pushes go to the other buffer. */
  take(): Uint8Array {
    const out = this.#fill.subarray(0, this.#used);
    [this.#fill, this.#spare] = [this.#spare, this.#fill];
    this.#used = 0;
    this.frames = 0;
    return out;
  }
}
