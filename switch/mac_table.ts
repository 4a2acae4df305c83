/**
 * The forwarding database: (VLAN, MAC) → port, bounded, with lazy ageing.
 *
 * Hot-path shape: an open-addressing hash table (linear probing, backward-shift deletion) in typed
 * arrays, keyed by the VLAN and the MAC split into its 16 high and 32 low bits. Learning and lookup
 * allocate nothing and stay in int32 arithmetic; a JS `Map` keyed by 48-bit numbers (heap numbers,
 * not small integers) measured about 1.5× slower per frame here and grows garbage as it rehashes.
 * Capacity is the next power of two ≥ 2 × limit, so probes stay short at the limit.
 *
 * Ageing is lazy (checked on lookup; IEEE 802.1Q-2018 §8.8.3, default 300 s). When the table is
 * full, aged entries are swept at most once a second before a new MAC is refused and counted.
 */

export interface FdbEntry {
  vlan: number;
  /** The 48-bit MAC as a number. */
  mac: number;
  port: number;
  /** Seconds since the entry was last refreshed. */
  age: number;
}

/** Results of `learn` besides the previous port number. */
export const LEARNED_NEW = -1;
export const LEARN_REFUSED = -2;

export class MacTable {
  readonly limit: number;
  ageingSec: number;
  /** New MACs not learned because the table was full. */
  refusals = 0;
  /** Entries removed because they aged. */
  aged = 0;
  #size = 0;
  #mask: number;
  /** VLAN ID + 1 per slot; 0 marks an empty slot. */
  #vid: Uint16Array;
  #hi: Uint16Array;
  #lo: Int32Array;
  #port: Uint16Array;
  #seen: Float64Array;
  #lastSweep = -Infinity;

  constructor(limit = 65536, ageingSec = 300) {
    this.limit = limit;
    this.ageingSec = ageingSec;
    let cap = 64;
    while (cap < limit * 2) cap *= 2;
    this.#mask = cap - 1;
    this.#vid = new Uint16Array(cap);
    this.#hi = new Uint16Array(cap);
    this.#lo = new Int32Array(cap);
    this.#port = new Uint16Array(cap);
    this.#seen = new Float64Array(cap);
  }

  get size(): number {
    return this.#size;
  }

  #slot(vid1: number, hi: number, lo: number): number {
    let h = Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi | (vid1 << 16), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.#mask;
  }

  /** The slot holding the key, or the empty slot where it would go (as ~slot, negative). */
  #find(vid1: number, hi: number, lo: number): number {
    const vids = this.#vid, his = this.#hi, los = this.#lo, mask = this.#mask;
    for (let i = this.#slot(vid1, hi, lo);; i = (i + 1) & mask) {
      const v = vids[i];
      if (v === 0) return ~i;
      if (v === vid1 && los[i] === lo && his[i] === hi) return i;
    }
  }

  /**
   * Record that MAC (hi, lo) was seen on `port` in `vlan` at second `now`. Returns the port it was
   * on before (equal to `port` when unchanged), LEARNED_NEW, or LEARN_REFUSED when full.
   */
  learn(vlan: number, hi: number, lo: number, port: number, now: number): number {
    const vid1 = vlan + 1;
    const i = this.#find(vid1, hi, lo);
    if (i >= 0) {
      const old = this.#port[i];
      this.#port[i] = port;
      this.#seen[i] = now;
      return old;
    }
    if (this.#size >= this.limit) {
      if (now - this.#lastSweep >= 1) {
        this.#lastSweep = now;
        this.aged += this.#rebuild((_, seen) => now - seen <= this.ageingSec);
      }
      if (this.#size >= this.limit) {
        this.refusals++;
        return LEARN_REFUSED;
      }
      return this.learn(vlan, hi, lo, port, now);
    }
    this.#put(~i, vid1, hi, lo, port, now);
    return LEARNED_NEW;
  }

  #put(i: number, vid1: number, hi: number, lo: number, port: number, seen: number): void {
    this.#vid[i] = vid1;
    this.#hi[i] = hi;
    this.#lo[i] = lo;
    this.#port[i] = port;
    this.#seen[i] = seen;
    this.#size++;
  }

  /** The port MAC (hi, lo) was last seen on in `vlan`, or -1 when unknown or aged. */
  lookup(vlan: number, hi: number, lo: number, now: number): number {
    const i = this.#find(vlan + 1, hi, lo);
    if (i < 0) return -1;
    if (now - this.#seen[i] > this.ageingSec) {
      this.#delete(i);
      this.aged++;
      return -1;
    }
    return this.#port[i];
  }

  /** Backward-shift deletion keeps every probe chain unbroken without tombstones. */
  #delete(i: number): void {
    const vids = this.#vid, mask = this.#mask;
    let hole = i;
    for (let j = (i + 1) & mask; vids[j] !== 0; j = (j + 1) & mask) {
      const home = this.#slot(vids[j], this.#hi[j], this.#lo[j]);
      // Move j into the hole when its home is not cyclically within (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.#copy(j, hole);
        hole = j;
      }
    }
    vids[hole] = 0;
    this.#size--;
  }

  #copy(from: number, to: number): void {
    this.#vid[to] = this.#vid[from];
    this.#hi[to] = this.#hi[from];
    this.#lo[to] = this.#lo[from];
    this.#port[to] = this.#port[from];
    this.#seen[to] = this.#seen[from];
  }

  /** Keep only the entries `keep` accepts (O(capacity); for sweeps and flushes, not per frame). */
  #rebuild(keep: (port: number, seen: number) => boolean): number {
    const old = { vid: this.#vid, hi: this.#hi, lo: this.#lo, port: this.#port, seen: this.#seen };
    const cap = this.#mask + 1;
    this.#vid = new Uint16Array(cap);
    this.#hi = new Uint16Array(cap);
    this.#lo = new Int32Array(cap);
    this.#port = new Uint16Array(cap);
    this.#seen = new Float64Array(cap);
    const before = this.#size;
    this.#size = 0;
    for (let i = 0; i < cap; i++) {
      const v = old.vid[i];
      if (v === 0) continue;
      if (!keep(old.port[i], old.seen[i])) continue;
      this.#put(
        ~this.#find(v, old.hi[i], old.lo[i]),
        v,
        old.hi[i],
        old.lo[i],
        old.port[i],
        old.seen[i],
      );
    }
    return before - this.#size;
  }

  /** Forget entries: all, or those of one port. Returns how many were removed. */
  flush(port?: number): number {
    return this.#rebuild((p) => port !== undefined && p !== port);
  }

  /** A snapshot for the API and tests (not for the hot path). */
  entries(now: number): FdbEntry[] {
    const out: FdbEntry[] = [];
    for (let i = 0; i <= this.#mask; i++) {
      if (this.#vid[i] === 0) continue;
      const age = now - this.#seen[i];
      if (age > this.ageingSec) continue;
      out.push({
        vlan: this.#vid[i] - 1,
        mac: this.#hi[i] * 4294967296 + (this.#lo[i] >>> 0),
        port: this.#port[i],
        age,
      });
    }
    return out;
  }
}
