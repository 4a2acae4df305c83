/**
 * The sender's per-segment log between SND.UNA and SND.MAX, for RACK-TLP (RFC 8985 §5.2 needs the
 * transmit time of every outstanding segment) and RFC 6675 pipe accounting. Entries are contiguous,
 * in sequence order, each one segment as first sent: parallel typed arrays (start, end, last
 * transmit time, flags) over a linear buffer with a moving head, so the hot path allocates nothing
 * and a cumulative ACK drops entries by moving `head`. A retransmission or SACK block that cuts an
 * entry splits it (rare: the receiver SACKs whole segments we sent).
 *
 * Byte counters for SACKed, lost and retransmitted-in-flight entries give RFC 6675's pipe in O(1):
 *   pipe = (SND.MAX - SND.UNA) - sacked - lost + retransmitted   (as Linux's tcp_packets_in_flight)
 * A lost entry keeps LOST when retransmitted (RETRANS is added), so the retransmission counts once.
 */

import { seq_diff, seq_gt, seq_le, seq_lt } from "./seq.ts";

/** The receiver holds it (SACK). */
export const SEG_SACKED = 1;
/** Deemed lost (RACK, or everything on RTO); not yet retransmitted unless RETRANS too. */
export const SEG_LOST = 2;
/** A retransmission of it is in flight. */
export const SEG_RETRANS = 4;
/** Retransmitted at least once (its transmit time is not its first one). */
export const SEG_EVER_RETRANS = 8;

export interface SegLogSnapshot {
  start: number[];
  end: number[];
  /** Transmit times relative to the snapshot's `now`. */
  xmit: number[];
  flags: number[];
}

export class SegLog {
  start: Uint32Array;
  end: Uint32Array;
  xmit: Float64Array;
  flags: Uint8Array;
  head = 0;
  tail = 0;
  sackedBytes = 0;
  lostBytes = 0;
  retransBytes = 0;
  /** The last transmit stamp given out (see `stamp`). */
  lastStamp = -Infinity;

  /**
   * 8 entries to start (the arrays double as needed): typed arrays of at most 64 bytes live in
   * V8's heap, larger ones each need an allocation outside it — four per connection at 64
   * entries, a measurable share of a short connection's cost (the gateway's connection rate).
   */
  constructor(capacity = 8) {
    this.start = new Uint32Array(capacity);
    this.end = new Uint32Array(capacity);
    this.xmit = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  get count(): number {
    return this.tail - this.head;
  }

  get isEmpty(): boolean {
    return this.tail === this.head;
  }

  clear(): void {
    this.head = this.tail = 0;
    this.sackedBytes = this.lostBytes = this.retransBytes = 0;
  }

  /** Bytes the network is believed to hold, given the flight SND.MAX - SND.UNA. */
  pipe(flight: number): number {
    const p = flight - this.sackedBytes - this.lostBytes + this.retransBytes;
    return p > 0 ? p : 0;
  }

  len(i: number): number {
    return seq_diff(this.end[i], this.start[i]);
  }

  /** Room for one more entry at the tail (compacting or doubling the arrays). */
  #room(): void {
    if (this.tail < this.start.length) return;
    const n = this.count;
    if (this.head > 0 && n <= this.start.length >>> 1) {
      this.start.copyWithin(0, this.head, this.tail);
      this.end.copyWithin(0, this.head, this.tail);
      this.xmit.copyWithin(0, this.head, this.tail);
      this.flags.copyWithin(0, this.head, this.tail);
    } else {
      const cap = this.start.length * 2;
      const s = new Uint32Array(cap), e = new Uint32Array(cap);
      const x = new Float64Array(cap), f = new Uint8Array(cap);
      s.set(this.start.subarray(this.head, this.tail));
      e.set(this.end.subarray(this.head, this.tail));
      x.set(this.xmit.subarray(this.head, this.tail));
      f.set(this.flags.subarray(this.head, this.tail));
      this.start = s;
      this.end = e;
      this.xmit = x;
      this.flags = f;
    }
    this.head = 0;
    this.tail = n;
  }

  #append(s: number, e: number, now: number, flags: number): void {
    this.#room();
    const i = this.tail++;
    this.start[i] = s;
    this.end[i] = e;
    this.xmit[i] = now;
    this.flags[i] = flags;
    this.#count(i, 1);
  }

  /** Add (sign 1) or remove (-1) entry i's bytes from the counters its flags select. */
  #count(i: number, sign: number): void {
    const f = this.flags[i];
    if (f === 0) return;
    const n = sign * this.len(i);
    if (f & SEG_SACKED) this.sackedBytes += n;
    if (f & SEG_LOST) this.lostBytes += n;
    if (f & SEG_RETRANS) this.retransBytes += n;
  }

  setFlags(i: number, f: number): void {
    this.#count(i, -1);
    this.flags[i] = f;
    this.#count(i, 1);
  }

  /** Index of the entry holding `seq`, or -1. */
  find(seq: number): number {
    let lo = this.head, hi = this.tail - 1;
    if (lo > hi || seq_lt(seq, this.start[lo]) || !seq_lt(seq, this.end[hi])) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (seq_le(this.start[mid], seq)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Make `seq` an entry boundary (if it lies inside one). Returns the entry starting at `seq`. */
  split(seq: number): number {
    const i = this.find(seq);
    if (i < 0) return -1;
    if (this.start[i] === seq) return i;
    this.#room();
    const j = this.find(seq); // #room may have moved the entries
    this.#count(j, -1);
    this.start.copyWithin(j + 2, j + 1, this.tail);
    this.end.copyWithin(j + 2, j + 1, this.tail);
    this.xmit.copyWithin(j + 2, j + 1, this.tail);
    this.flags.copyWithin(j + 2, j + 1, this.tail);
    this.tail++;
    this.start[j + 1] = seq;
    this.end[j + 1] = this.end[j];
    this.xmit[j + 1] = this.xmit[j];
    this.flags[j + 1] = this.flags[j];
    this.end[j] = seq;
    this.#count(j, 1);
    this.#count(j + 1, 1);
    return j + 1;
  }

  /**
   * A transmit time that orders transmissions: `now`, nudged by 0.1 µs past the previous stamp when
   * the clock did not move. RACK breaks ties by sequence number (RFC 8985 §6.2), which is wrong
   * for a retransmission sent in the same millisecond as new data before it: the new data's ACK
   * would mark the retransmission lost at once.
   */
  stamp(now: number): number {
    const t = now > this.lastStamp ? now : this.lastStamp + 1e-4;
    this.lastStamp = t;
    return t;
  }

  /**
   * [s, e) went out at `now`. New data (at the tail) is appended; anything below the tail is a
   * retransmission: those entries get the new time and RETRANS. Returns whether any of it was a
   * retransmission.
   */
  onSend(s: number, e: number, now: number): boolean {
    if (!seq_lt(s, e)) return false;
    now = this.stamp(now);
    if (this.isEmpty) {
      this.#append(s, e, now, 0);
      return false;
    }
    const last = this.end[this.tail - 1];
    if (seq_le(last, s)) {
      if (last !== s) this.clear(); // a gap cannot happen; start afresh rather than misreport
      this.#append(s, e, now, 0);
      return false;
    }
    if (seq_lt(s, this.start[this.head])) s = this.start[this.head];
    this.split(s);
    const stop = seq_lt(e, last) ? e : last;
    if (seq_lt(stop, last)) this.split(stop);
    let i = this.find(s); // after the splits: they may have moved the entries
    if (i < 0) i = this.head;
    for (; i < this.tail && seq_lt(this.start[i], stop); i++) {
      if (this.flags[i] & SEG_SACKED) continue; // the receiver has it already: not in flight
      this.xmit[i] = now;
      this.setFlags(i, this.flags[i] | SEG_RETRANS | SEG_EVER_RETRANS);
    }
    if (seq_gt(e, last)) this.#append(last, e, now, 0);
    return true;
  }

  /** Drop what `una` acknowledges (a partial entry is trimmed). */
  ack(una: number): void {
    while (this.head < this.tail && seq_le(this.end[this.head], una)) {
      this.#count(this.head, -1);
      this.head++;
    }
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      return;
    }
    if (seq_lt(this.start[this.head], una)) {
      this.#count(this.head, -1);
      this.start[this.head] = una;
      this.#count(this.head, 1);
    }
  }

  /** The first lost entry not retransmitted since (RFC 6675 NextSeg rule 1 under RACK), or -1. */
  nextLost(): number {
    for (let i = this.head; i < this.tail; i++) {
      if ((this.flags[i] & (SEG_LOST | SEG_RETRANS | SEG_SACKED)) === SEG_LOST) return i;
    }
    return -1;
  }

  /** RTO (RFC 8985 §6.3, RFC 2018 §8): forget SACKs (the receiver may renege); all is lost. */
  markAllLost(): void {
    for (let i = this.head; i < this.tail; i++) this.flags[i] = SEG_LOST | (this.flags[i] & 8);
    let n = 0;
    if (!this.isEmpty) n = seq_diff(this.end[this.tail - 1], this.start[this.head]);
    this.lostBytes = n;
    this.sackedBytes = this.retransBytes = 0;
  }

  /** A spurious recovery was undone: nothing is deemed lost until RACK says so again. */
  unmarkLost(): void {
    for (let i = this.head; i < this.tail; i++) {
      if (this.flags[i] & SEG_LOST) this.setFlags(i, this.flags[i] & ~SEG_LOST);
    }
  }

  snapshot(now: number): SegLogSnapshot {
    const r: SegLogSnapshot = { start: [], end: [], xmit: [], flags: [] };
    for (let i = this.head; i < this.tail; i++) {
      r.start.push(this.start[i]);
      r.end.push(this.end[i]);
      r.xmit.push(this.xmit[i] - now);
      r.flags.push(this.flags[i]);
    }
    return r;
  }

  restore(s: SegLogSnapshot, now: number): void {
    this.clear();
    for (let k = 0; k < s.start.length; k++) {
      this.#append(s.start[k] >>> 0, s.end[k] >>> 0, now + s.xmit[k], s.flags[k] & 15);
      if (now + s.xmit[k] > this.lastStamp) this.lastStamp = now + s.xmit[k];
    }
  }
}
