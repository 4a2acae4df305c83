/**
 * Congestion control seam (bytes-based, RFC 5681 terms): the TCP engine owns loss detection and
 * recovery (pipe-based, RFC 6675) and calls one of these controllers for the window. Two
 * implementations: NewReno (RFC 5681 + RFC 3465 ABC) and CUBIC (RFC 9438). State is plain numbers
 * and strings (`snapshot`/`restore`) so a connection can move to another host.
 */

import { Cubic } from "./cubic.ts";
import { NewReno } from "./newreno.ts";

export { initialWindow } from "./cwnd.ts";

export type CongestionName = "newreno" | "cubic";

export interface CongestionControl {
  readonly name: CongestionName;
  /** Sender MSS in bytes, set by the engine after the handshake. */
  smss: number;
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow start threshold in bytes (initially 0x7fffffff). */
  ssthresh: number;
  /**
   * `acked` new bytes cumulatively acknowledged outside loss recovery; `flight` bytes outstanding
   * before this ACK; `srtt` ms (0 = no sample yet). Slow start (RFC 5681 §3.1 with ABC, RFC 3465,
   * L = 2*SMSS) or congestion avoidance. No growth while application-limited (flight < cwnd/2,
   * see cwnd.ts isAppLimited).
   */
  onAck(acked: number, now: number, srtt: number, flight: number): void;
  /**
   * Loss detected (3 duplicate ACKs or SACK, RFC 5681 §3.2 / RFC 6675 §5): set ssthresh and
   * cwnd = ssthresh. The engine then runs recovery itself and does not call onAck until
   * onRecoveryExit.
   */
  onLoss(now: number, flight: number): void;
  onRecoveryExit(now: number): void;
  /** RTO expiry: ssthresh as onLoss (held on repeated timeouts), cwnd = 1*SMSS. */
  onTimeout(now: number, flight: number): void;
  /** Restart after idle longer than an RTO (RFC 5681 §4.1): cwnd = min(cwnd, IW). */
  onIdleRestart(now: number): void;
  snapshot(): Record<string, number | string>;
  restore(s: Record<string, number | string>): void;
}

/** A controller with cwnd = IW (RFC 6928) for `smss`. */
export function createCongestion(
  name: CongestionName,
  smss: number,
  now: number,
): CongestionControl {
  switch (name) {
    case "newreno":
      return new NewReno(smss);
    case "cubic":
      return new Cubic(smss, now);
    default:
      throw new RangeError(
        `Cannot create congestion control "${name}": expected "newreno" or "cubic"`,
      );
  }
}
