/**
 * A bounded byte ring: TCP's send buffer (queued + unacknowledged bytes, head = SND.UNA) and
 * receive buffer (in-order unread bytes, head = next byte the application reads; out-of-order
 * bytes sit beyond `length` until they become contiguous, see assembler.ts).
 *
 * `capacity` is the bound; the backing array starts empty and grows by doubling (from 4 KiB) to
 * what is actually used, at most `capacity`. A fresh or idle connection therefore holds no buffer
 * memory, and a short exchange (an HTTP request) never pays for zeroing megabytes: allocating the
 * full 2 MiB + 1 MiB at every connect cost 38 % of the CPU of a small-request benchmark (measured).
 * 4 KiB rather than 16: a request or a small response fits, and every fresh allocation of a
 * short-lived connection is a malloc that may touch new pages (page faults are costly in a VM).
 * Growth copies the contents once, in order, so the amortised cost per byte stays constant.
 *
 * Every other operation copies with at most two `set` calls (one per side of the wrap) and
 * allocates nothing, so it can run per segment on the hot path (ARCHITECTURE §4). State is
 * `{buf, head, length}`: plain data, snapshotted by `snapshot()`.
 */

const EMPTY = new Uint8Array(0);
const MIN_BACKING = 4 * 1024;
/**
 * First backings (4 KiB) of rings released by finished connections, reused by the next ones: a
 * gateway or server that churns through short connections otherwise allocates two fresh
 * ArrayBuffers per connection, each a zeroed allocation outside V8's heap that also brings the
 * next GC closer (measured in the gateway's connection-rate benchmark: ~40 µs of CPU per
 * connection in `#grow`, for rings that never held more than a few bytes). At most 1 MiB.
 */
const spare: Uint8Array[] = [];
const MAX_SPARE = 256;

export class ByteRing {
  readonly capacity: number;
  #buf: Uint8Array = EMPTY;
  #head = 0;
  #len = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(
        `Cannot create a ByteRing of capacity ${capacity}: expected an integer >= 0`,
      );
    }
    this.capacity = capacity;
  }

  /** Bytes stored in order from the head (readable, or queued/unacknowledged). */
  get length(): number {
    return this.#len;
  }

  /** capacity - length. */
  get free(): number {
    return this.capacity - this.#len;
  }

  /** Bytes of backing memory currently allocated (for memory accounting). */
  get allocated(): number {
    return this.#buf.length;
  }

  /** Spare first backings held for reuse by every ring of the process (for tests). */
  static get spareBackings(): number {
    return spare.length;
  }

  /**
   * The connection is done with this ring (TIME-WAIT or CLOSED): give the backing back when
   * nothing is stored, zeroed (a reused backing must not show another connection's bytes, e.g.
   * in the gaps of a `snapshot(extent)`). A ring still holding bytes keeps them — the
   * application may read what arrived before a reset — and the garbage collector takes it with
   * the connection. Writing again later grows a new backing.
   */
  release(): void {
    if (this.#len !== 0 || this.#buf.length === 0) return;
    const b = this.#buf;
    this.#buf = EMPTY;
    this.#head = 0;
    if (b.length === MIN_BACKING && spare.length < MAX_SPARE) {
      b.fill(0);
      spare.push(b);
    }
  }

  /** Append up to `free` bytes of `src`; returns how many were stored. */
  write(src: Uint8Array): number {
    const n = Math.min(src.length, this.capacity - this.#len);
    if (n > 0) {
      this.#copyIn(this.#len, src, 0, n);
      this.#len += n;
    }
    return n;
  }

  /** Consume up to `dst.length` bytes from the head into `dst`; returns the count. */
  read(dst: Uint8Array): number {
    const n = this.peek(0, dst, 0, dst.length);
    this.discard(n);
    return n;
  }

  /**
   * Copy bytes [head+offset, head+offset+len) into `dst` at `dstOff` without consuming them
   * (building a segment or a retransmission: the one copy ring -> tx buffer). Clamped to the
   * stored bytes and to `dst`; returns the count copied.
   */
  peek(offset: number, dst: Uint8Array, dstOff: number, len: number): number {
    if (offset < 0 || dstOff < 0) return 0;
    const n = Math.min(len, this.#len - offset, dst.length - dstOff);
    if (n <= 0) return 0;
    const size = this.#buf.length;
    let start = this.#head + offset;
    if (start >= size) start -= size;
    const first = Math.min(n, size - start);
    dst.set(this.#buf.subarray(start, start + first), dstOff);
    if (first < n) dst.set(this.#buf.subarray(0, n - first), dstOff + first);
    return n;
  }

  /** Drop `n` bytes from the head (acknowledged, or read); clamped to `length`. */
  discard(n: number): void {
    if (!(n > 0)) return;
    // No rewind to 0 when the ring empties: out-of-order bytes placed beyond `length` by writeAt
    // are addressed relative to the head and must stay where they are.
    const k = Math.min(n, this.#len);
    const size = this.#buf.length;
    this.#head += k;
    if (this.#head >= size) this.#head -= size;
    this.#len -= k;
  }

  /**
   * Store `src[srcOff, srcOff+len)` at head+offset, for out-of-order receive (offset >= length;
   * the gap [length, offset) stays unreadable until `commit`). Bytes that would fall beyond the
   * capacity are not stored. An offset below `length` overwrites stored bytes, which for TCP
   * retransmissions are the same bytes; the engine should pass only the new part. Returns the
   * count stored.
   */
  writeAt(offset: number, src: Uint8Array, srcOff: number, len: number): number {
    if (offset < 0 || srcOff < 0) return 0;
    const n = Math.min(len, this.capacity - offset, src.length - srcOff);
    if (n <= 0) return 0;
    this.#copyIn(offset, src, srcOff, n);
    return n;
  }

  /** Extend `length` by `n` (bytes placed by writeAt became contiguous); clamped to `free`. */
  commit(n: number): void {
    if (n > 0) this.#len += Math.min(n, this.capacity - this.#len);
  }

  /**
   * A copy of the stored bytes in order. `extent` (default `length`) copies further, up to
   * head+extent, to carry out-of-order bytes placed by writeAt (the receive ring of a migrating
   * connection, with the Assembler's ranges); `length` records where the in-order part ends.
   */
  snapshot(extent?: number): { capacity: number; data: Uint8Array; length: number } {
    const n = Math.min(Math.max(extent ?? this.#len, this.#len), this.capacity);
    const data = new Uint8Array(n);
    const m = Math.min(n, this.#buf.length); // bytes beyond the backing were never written
    const first = Math.min(m, this.#buf.length - this.#head);
    if (m > 0) {
      data.set(this.#buf.subarray(this.#head, this.#head + first), 0);
      if (first < m) data.set(this.#buf.subarray(0, m - first), first);
    }
    return { capacity: this.capacity, data, length: this.#len };
  }

  /** Rebuild a ring from `snapshot()`; a missing `length` means all of `data` is in order. */
  static restore(s: { capacity: number; data: Uint8Array; length?: number }): ByteRing {
    const r = new ByteRing(s.capacity);
    const n = Math.min(s.data.length, s.capacity);
    if (n > 0) {
      r.#grow(n);
      r.#buf.set(s.data.subarray(0, n), 0);
    }
    r.#len = Math.min(s.length ?? n, n);
    return r;
  }

  /**
   * Make the backing hold at least `need` bytes from the head: double (from 4 KiB) up to
   * `capacity`, copying the old contents in order so the head moves to 0.
   */
  #grow(need: number): void {
    let size = Math.max(this.#buf.length, MIN_BACKING);
    while (size < need) size *= 2;
    size = Math.min(size, this.capacity);
    if (size <= this.#buf.length) return;
    const old = this.#buf;
    const next = size === MIN_BACKING && spare.length > 0 ? spare.pop()! : new Uint8Array(size);
    if (old.length > 0) {
      next.set(old.subarray(this.#head), 0);
      next.set(old.subarray(0, this.#head), old.length - this.#head);
    }
    this.#buf = next;
    this.#head = 0;
  }

  /** Copy n bytes (n <= capacity - offset) to head+offset, wrapping. */
  #copyIn(offset: number, src: Uint8Array, srcOff: number, n: number): void {
    if (offset + n > this.#buf.length) this.#grow(offset + n);
    const size = this.#buf.length;
    let start = this.#head + offset;
    if (start >= size) start -= size;
    const first = Math.min(n, size - start);
    this.#buf.set(src.subarray(srcOff, srcOff + first), start);
    if (first < n) this.#buf.set(src.subarray(srcOff + first, srcOff + n), 0);
  }
}
