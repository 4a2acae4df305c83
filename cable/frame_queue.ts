/**
 * A bounded FIFO of outgoing frames for the FFI endpoint kinds (unix datagrams, TAP, UDP): frames
 * are copied into one arena so that a batch call (`sendmmsg`, `writev`) can point at them, with
 * bounds in frames and bytes. The arena starts small and grows on demand up to the byte bound —
 * most ports never queue much.
 *
 * With `flush`, the queue also schedules it: once per event-loop turn after pushes, so every
 * frame handed over in one turn leaves in one batch call.
 *
 * Frames `[head, count)` wait; frame i is `buf[offs[i], offs[i] + lens[i])`. The sender consumes
 * from `head` and calls `reset()` when everything went out. `onPlace(i, address, length)` is told
 * where each frame sits (its absolute address), on push and again after the arena moves, so an
 * endpoint can keep its iovecs ready.
 */

import { addressOf } from "./ffi/libc.ts";

export class FrameQueue {
  readonly offs: Uint32Array;
  readonly lens: Uint32Array;
  buf: Uint8Array;
  /** Address of `buf[0]` (FFI): frame i is at `base + offs[i]`. */
  base: number;
  head = 0;
  count = 0;
  tail = 0;
  /**
   * True while the endpoint waits for its descriptor to take more (EAGAIN, then POLLOUT): pushes
   * then only queue, and the endpoint flushes when it is writable again.
   */
  blocked = false;
  #scheduled = false;
  readonly #run = () => {
    this.#scheduled = false;
    this.flush?.();
  };

  constructor(
    readonly maxFrames: number,
    readonly maxBytes: number,
    readonly onPlace?: (i: number, address: number, length: number) => void,
    /** Sends what waits; called once per event-loop turn (a microtask) after pushes. */
    readonly flush?: () => void,
  ) {
    this.offs = new Uint32Array(maxFrames);
    this.lens = new Uint32Array(maxFrames);
    this.buf = new Uint8Array(Math.min(maxBytes, 256 * 1024));
    this.base = addressOf(this.buf);
  }

  /** Frames waiting. */
  get frames(): number {
    return this.count - this.head;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.count === this.head ? 0 : this.tail - this.offs[this.head];
  }

  /** Copy a frame in; false when the queue is full. */
  push(frame: Uint8Array): boolean {
    const len = frame.length;
    if (this.count === this.maxFrames || this.tail + len > this.buf.length) {
      if (!this.#makeRoom(len)) return false;
    }
    const i = this.count;
    const off = this.tail;
    this.buf.set(frame, off);
    this.offs[i] = off;
    this.lens[i] = len;
    this.count = i + 1;
    this.tail = off + len;
    this.onPlace?.(i, this.base + off, len);
    if (!this.#scheduled && !this.blocked && this.flush) {
      this.#scheduled = true;
      queueMicrotask(this.#run);
    }
    return true;
  }

  /** Forget every waiting frame; returns how many there were. */
  reset(): number {
    const dropped = this.count - this.head;
    this.head = this.count = this.tail = 0;
    return dropped;
  }

  /**
   * Make room for one more frame of `len` bytes: grow the arena (up to the bound) or move the
   * waiting frames to the front. False when full. Moving costs as much as the waiting bytes, so it
   * is done only when it frees at least a quarter of the queue, which bounds its cost per frame
   * under sustained overload.
   */
  #makeRoom(len: number): boolean {
    const live = this.count - this.head;
    const liveStart = live > 0 ? this.offs[this.head] : this.tail;
    const liveBytes = this.tail - liveStart;
    if (live >= this.maxFrames || liveBytes + len > this.maxBytes) return false;
    const cap = this.buf.length;
    let buf = this.buf;
    if (liveBytes + len > cap || (this.tail + len > cap && cap < this.maxBytes)) {
      buf = new Uint8Array(Math.min(this.maxBytes, Math.max(cap * 2, liveBytes + len)));
      buf.set(this.buf.subarray(liveStart, liveStart + liveBytes));
    } else {
      if (live * 4 > this.maxFrames * 3 || liveBytes * 4 > cap * 3) return false;
      buf.copyWithin(0, liveStart, liveStart + liveBytes);
    }
    this.buf = buf;
    this.base = addressOf(buf);
    const head = this.head;
    for (let j = 0; j < live; j++) {
      const off = this.offs[head + j] - liveStart;
      const l = this.lens[head + j];
      this.offs[j] = off;
      this.lens[j] = l;
      this.onPlace?.(j, this.base + off, l);
    }
    this.head = 0;
    this.count = live;
    this.tail = liveBytes;
    return true;
  }
}
