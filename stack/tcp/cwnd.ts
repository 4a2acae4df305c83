/**
 * Window arithmetic shared by the congestion controllers (newreno.ts, cubic.ts): the initial
 * window, slow start with Appropriate Byte Counting, and the application-limited test. Kept apart
 * from congestion.ts so that the controllers do not import the factory that imports them.
 */

/** "Infinity-like" initial ssthresh (RFC 5681 §3.1: arbitrarily high), as a 31-bit value. */
export const INITIAL_SSTHRESH = 0x7fffffff;

/** RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)) bytes. */
export function initialWindow(smss: number): number {
  return Math.min(10 * smss, Math.max(2 * smss, 14600));
}

/** The window fields slow start touches. */
export interface WindowState {
  smss: number;
  cwnd: number;
  ssthresh: number;
}

/**
 * Slow start (RFC 5681 §3.1) with Appropriate Byte Counting (RFC 3465 §2.2, L = 2*SMSS): cwnd
 * grows by min(acked, L) per ACK, but not past ssthresh. Returns the acked bytes left over once
 * cwnd reached ssthresh (0 if still in slow start), for congestion avoidance to count, as Linux
 * does, so the switch does not lose part of an ACK.
 */
export function slowStart(w: WindowState, acked: number): number {
  const inc = Math.min(acked, 2 * w.smss);
  const room = w.ssthresh - w.cwnd;
  if (inc < room) {
    w.cwnd += inc;
    return 0;
  }
  w.cwnd = w.ssthresh;
  return Math.max(acked - Math.max(room, 0), 0);
}

/**
 * Whether the sender was application-limited when this ACK came: fewer than cwnd/2 bytes were in
 * flight, so the ACKs do not show the network can carry a larger cwnd and growing it would only
 * lift a limit nobody tested (RFC 7661 §4.3's idea; Linux's tcp_is_cwnd_limited uses the same
 * half-cwnd test in slow start). One rule in both phases keeps the controllers simple; the cost
 * is that congestion avoidance may still grow while flight is between cwnd/2 and cwnd.
 */
export function isAppLimited(cwnd: number, flight: number): boolean {
  return flight < cwnd / 2;
}
