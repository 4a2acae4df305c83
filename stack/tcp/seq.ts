/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982): comparisons hold while the
 * two numbers are less than 2^31 apart, which the window rules guarantee.
 */

/** a + n, wrapped to 32 bits. */
export function seq_add(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance b - a (positive when b is after a). */
export function seq_diff(b: number, a: number): number {
  return (b - a) | 0;
}

export function seq_lt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seq_le(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

export function seq_gt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export function seq_ge(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** Whether lo <= x < hi in sequence space. */
export function seq_in(x: number, lo: number, hi: number): boolean {
  return seq_le(lo, x) && seq_lt(x, hi);
}

export function seq_max(a: number, b: number): number {
  return seq_gt(a, b) ? a : b;
}

export function seq_min(a: number, b: number): number {
  return seq_lt(a, b) ? a : b;
}
