/**
 * The sender's SACK scoreboard (RFC 6675 §3): which sequence ranges above SND.UNA the receiver
 * has reported holding (RFC 2018 SACK blocks). Ranges are absolute sequence numbers, sorted, disjoint
 * and non-adjacent, kept as a flat `[start0, end0, start1, end1, …]` array of plain numbers (so a
 * connection snapshot carries it as is). Only loss recovery touches it, so the rare `splice` is
 * fine; the steady no-loss path never adds a range.
 */

import { seq_diff, seq_le, seq_lt, seq_max, seq_min } from "./seq.ts";

export class SackScoreboard {
  /** Flat [start, end) pairs in ascending sequence order. */
  ranges: number[] = [];
  /** Total bytes covered by `ranges`. */
  sackedBytes = 0;
  readonly maxRanges: number;

  constructor(maxRanges = 32) {
    this.maxRanges = maxRanges;
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  clear(): void {
    this.ranges.length = 0;
    this.sackedBytes = 0;
  }

  /** Record that [l, r) was SACKed. Returns whether any byte was newly covered. */
  add(l: number, r: number): boolean {
    if (!seq_lt(l, r)) return false;
    const a = this.ranges;
    let i = 0;
    while (i < a.length && seq_lt(a[i + 1], l)) i += 2;
    let j = i;
    let nl = l, nr = r, covered = 0;
    while (j < a.length && seq_le(a[j], r)) {
      nl = seq_min(nl, a[j]);
      nr = seq_max(nr, a[j + 1]);
      covered += seq_diff(a[j + 1], a[j]);
      j += 2;
    }
    const added = seq_diff(nr, nl) - covered;
    if (added <= 0) return false;
    a.splice(i, j - i, nl, nr);
    this.sackedBytes += added;
    // Too many holes: forget the highest range; it is the least useful for recovery, and the
    // receiver repeats it in later SACKs anyway.
    while (a.length > 2 * this.maxRanges) {
      this.sackedBytes -= seq_diff(a[a.length - 1], a[a.length - 2]);
      a.length -= 2;
    }
    return true;
  }

  /** SND.UNA moved to `una`: forget what it covers. */
  advance(una: number): void {
    const a = this.ranges;
    let k = 0;
    while (k < a.length && seq_le(a[k + 1], una)) {
      this.sackedBytes -= seq_diff(a[k + 1], a[k]);
      k += 2;
    }
    if (k > 0) a.splice(0, k);
    if (a.length > 0 && seq_lt(a[0], una)) {
      this.sackedBytes -= seq_diff(una, a[0]);
      a[0] = una;
    }
  }

  /**
   * The highest sequence number L such that every un-SACKed byte below L is lost by RFC 6675's
   * IsLost (§4): DupThresh discontiguous SACKed ranges, or more than (DupThresh - 1) * SMSS
   * SACKed bytes, lie above it. IsLost is monotonic (a lower byte has at least as much SACKed
   * above it), so one edge describes it. Returns `una` when nothing is lost.
   */
  lossEdge(una: number, smss: number, dupThresh = 3): number {
    const a = this.ranges;
    let count = 0, bytes = 0;
    for (let k = a.length - 2; k >= 0; k -= 2) {
      count++;
      bytes += seq_diff(a[k + 1], a[k]);
      if (count >= dupThresh || bytes > (dupThresh - 1) * smss) return seq_max(a[k], una);
    }
    return una;
  }

  /** `seq`, or the end of the SACKed range that holds it. */
  skipSacked(seq: number): number {
    const a = this.ranges;
    for (let k = 0; k < a.length; k += 2) {
      if (seq_lt(seq, a[k])) return seq;
      if (seq_lt(seq, a[k + 1])) return a[k + 1];
    }
    return seq;
  }

  /** The start of the first SACKed range after `seq`, capped at `limit`. */
  nextSackedStart(seq: number, limit: number): number {
    const a = this.ranges;
    for (let k = 0; k < a.length; k += 2) {
      if (seq_lt(seq, a[k])) return seq_min(a[k], limit);
    }
    return limit;
  }

  /** Bytes in [from, to) not SACKed. */
  unsackedIn(from: number, to: number): number {
    let n = seq_diff(to, from);
    if (n <= 0) return 0;
    const a = this.ranges;
    for (let k = 0; k < a.length; k += 2) {
      const l = seq_max(a[k], from), r = seq_min(a[k + 1], to);
      if (seq_lt(l, r)) n -= seq_diff(r, l);
    }
    return n;
  }

  snapshot(): number[] {
    return this.ranges.slice();
  }

  restore(r: number[]): void {
    this.clear();
    for (let k = 0; k + 1 < r.length; k += 2) this.add(r[k], r[k + 1]);
  }
}
