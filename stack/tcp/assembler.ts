/**
 * Out-of-order receive bookkeeping (the idea of smoltcp's Assembler): which byte ranges beyond the
 * in-order end (RCV.NXT) have arrived. Offsets are relative to RCV.NXT; the bytes themselves live
 * in the receive ByteRing (placed with `writeAt`). Ranges are kept sorted, disjoint and
 * non-adjacent (touching ranges are merged), in preallocated arrays: nothing is allocated per
 * segment.
 *
 * How the engine uses it, per data segment at offset `off = SEG.SEQ - RCV.NXT` (after trimming to
 * the window):
 * - `off > 0` (a hole before it): `ring.writeAt(ring.length + off, …)`, then `add(off, len)`; if
 *   that returns false (too many holes) drop the segment's data: it will be retransmitted.
 * - `off === 0`: `ring.writeAt(ring.length, …)`, `add(0, len)`, then `n = takeFront()` gives the
 *   whole contiguous count, including ranges the segment joined; `ring.commit(n)` and advance
 *   RCV.NXT by n. (`takeFront` shifts the remaining offsets down by n, keeping them relative to the
 *   new RCV.NXT.)
 * - `shift(n)` is for the rare case where the caller advanced RCV.NXT by bytes it did not `add`.
 *
 * SACK (RFC 2018 §4): every range carries a stamp of when it last grew, so `sackBlocks` can report
 * the range holding the most recent segment first and then the others most recent first, which
 * also repeats recently reported blocks as the RFC asks.
 */
export class Assembler {
  readonly maxRanges: number;
  #start: number[];
  #end: number[];
  #stamp: number[];
  #count = 0;
  #clock = 0;

  constructor(maxRanges = 32) {
    if (!Number.isInteger(maxRanges) || maxRanges < 1) {
      throw new RangeError(
        `Cannot create an Assembler with maxRanges ${maxRanges}: expected an integer >= 1`,
      );
    }
    this.maxRanges = maxRanges;
    this.#start = new Array<number>(maxRanges).fill(0);
    this.#end = new Array<number>(maxRanges).fill(0);
    this.#stamp = new Array<number>(maxRanges).fill(0);
  }

  get isEmpty(): boolean {
    return this.#count === 0;
  }

  /** Number of disjoint ranges held. */
  get count(): number {
    return this.#count;
  }

  /** The end offset of the last range (0 when empty): how far out-of-order data reaches. */
  get extent(): number {
    return this.#count === 0 ? 0 : this.#end[this.#count - 1];
  }

  /**
   * Bytes [offset, offset+len) arrived (offset may be 0). Merges overlapping and touching ranges.
   * Returns false, changing nothing, when it would need more than maxRanges ranges. An empty or
   * negative-length range is accepted and ignored.
   */
  add(offset: number, len: number): boolean {
    if (!(len > 0)) return true;
    if (offset < 0) {
      len += offset;
      offset = 0;
      if (len <= 0) return true;
    }
    const s = this.#start, e = this.#end, st = this.#stamp;
    const end = offset + len;
    const n = this.#count;
    // First range that ends at or after `offset` (may touch or overlap); all before are left of it.
    let i = 0;
    while (i < n && e[i] < offset) i++;
    // Ranges i..j-1 overlap or touch [offset, end).
    let j = i;
    while (j < n && s[j] <= end) j++;
    const stamp = ++this.#clock;
    if (i === j) {
      // No merge: insert a new range at i.
      if (n >= this.maxRanges) {
        this.#clock--;
        return false;
      }
      for (let k = n; k > i; k--) {
        s[k] = s[k - 1];
        e[k] = e[k - 1];
        st[k] = st[k - 1];
      }
      s[i] = offset;
      e[i] = end;
      st[i] = stamp;
      this.#count = n + 1;
      return true;
    }
    // Merge ranges i..j-1 with the new one into slot i, then close the gap.
    s[i] = Math.min(s[i], offset);
    e[i] = Math.max(e[j - 1], end);
    st[i] = stamp;
    const removed = j - i - 1;
    if (removed > 0) {
      for (let k = j; k < n; k++) {
        s[k - removed] = s[k];
        e[k - removed] = e[k];
        st[k - removed] = st[k];
      }
      this.#count = n - removed;
    }
    return true;
  }

  /**
   * If a range starts at offset 0, remove it and return its length, shifting all other offsets down
   * by that length (they stay relative to the new RCV.NXT); else 0.
   */
  takeFront(): number {
    if (this.#count === 0 || this.#start[0] !== 0) return 0;
    const n = this.#end[0];
    const s = this.#start, e = this.#end, st = this.#stamp;
    const c = this.#count - 1;
    for (let k = 0; k < c; k++) {
      s[k] = s[k + 1] - n;
      e[k] = e[k + 1] - n;
      st[k] = st[k + 1];
    }
    this.#count = c;
    return n;
  }

  /**
   * Shift every offset down by `n` (the caller consumed n in-order bytes that were not in a range).
   * Ranges that fall below 0 are cut or dropped, so the invariant offset >= 0 holds.
   */
  shift(n: number): void {
    if (!(n > 0)) return;
    const s = this.#start, e = this.#end, st = this.#stamp;
    let w = 0;
    for (let k = 0; k < this.#count; k++) {
      const ne = e[k] - n;
      if (ne <= 0) continue;
      s[w] = Math.max(s[k] - n, 0);
      e[w] = ne;
      st[w] = st[k];
      w++;
    }
    this.#count = w;
  }

  /**
   * Fill `out` with up to `max` blocks as flat pairs `out[2i] = start, out[2i+1] = end` (offsets
   * relative to RCV.NXT; the engine adds RCV.NXT for the SACK option). RFC 2018 §4: the first block
   * holds the most recently received segment, the rest follow most recently updated first. Returns
   * the number of blocks.
   */
  sackBlocks(out: number[], max: number): number {
    const c = this.#count;
    const st = this.#stamp;
    let blocks = 0;
    let below = Infinity; // stamps are distinct, so "next older than the last chosen" is exact
    while (blocks < max && blocks < c) {
      let best = -1;
      for (let k = 0; k < c; k++) {
        if (st[k] < below && (best < 0 || st[k] > st[best])) best = k;
      }
      if (best < 0) break;
      out[2 * blocks] = this.#start[best];
      out[2 * blocks + 1] = this.#end[best];
      below = st[best];
      blocks++;
    }
    return blocks;
  }

  /** Forget every range (e.g. RFC 2018 §8: the receiver may renege; or on connection reset). */
  clear(): void {
    this.#count = 0;
  }

  /**
   * The ranges as [start, end) pairs, most recently updated first (so a restored Assembler reports
   * SACK blocks in the same order).
   */
  snapshot(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const flat: number[] = [];
    const n = this.sackBlocks(flat, this.#count);
    for (let k = 0; k < n; k++) out.push([flat[2 * k], flat[2 * k + 1]]);
    return out;
  }

  /** Rebuild from `snapshot()`: the first pair is taken as the most recent. */
  static restore(r: Array<[number, number]>, maxRanges = 32): Assembler {
    const a = new Assembler(Math.max(maxRanges, r.length, 1));
    for (let k = r.length - 1; k >= 0; k--) a.add(r[k][0], r[k][1] - r[k][0]);
    return a;
  }
}
