/**
 * NewReno's window (RFC 5681 §3, RFC 3465 ABC, RFC 6582 for the recovery it pairs with). Bytes
 * based: slow start adds min(acked, 2*SMSS) per ACK; congestion avoidance adds one SMSS per cwnd
 * of acknowledged bytes (RFC 5681 §3.1's byte-counting variant, RFC 3465 §2.1), i.e. one SMSS per
 * RTT. The fast-retransmit / recovery mechanics are the engine's (pipe-based, RFC 6675).
 */

import type { CongestionControl } from "./congestion.ts";
import { INITIAL_SSTHRESH, initialWindow, isAppLimited, slowStart } from "./cwnd.ts";

export class NewReno implements CongestionControl {
  readonly name = "newreno" as const;
  smss: number;
  cwnd: number;
  ssthresh = INITIAL_SSTHRESH;
  /** Bytes acknowledged in congestion avoidance not yet turned into cwnd growth. */
  bytesAcked = 0;
  /** Between onLoss and onRecoveryExit. */
  inRecovery = false;
  /**
   * Set by onTimeout until the next ACK of new data: RFC 5681 §3.1 (after eq. 4) holds ssthresh
   * constant when the same data times out again, rather than halving an already collapsed flight.
   */
  afterTimeout = false;

  constructor(smss: number) {
    this.smss = smss;
    this.cwnd = initialWindow(smss);
  }

  onAck(acked: number, _now: number, _srtt: number, flight: number): void {
    if (!(acked > 0) || this.inRecovery) return;
    this.afterTimeout = false;
    if (isAppLimited(this.cwnd, flight)) return;
    if (this.cwnd < this.ssthresh) {
      acked = slowStart(this, acked);
      if (acked === 0) return;
    }
    this.bytesAcked += acked;
    while (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += this.smss;
    }
  }

  /** RFC 5681 eq. (4): ssthresh = max(FlightSize/2, 2*SMSS); cwnd = ssthresh (RFC 6675 §5). */
  onLoss(_now: number, flight: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.smss);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
    this.inRecovery = true;
  }

  onRecoveryExit(_now: number): void {
    if (!this.inRecovery) return;
    this.inRecovery = false;
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
  }

  /** RFC 5681 §3.1: ssthresh by eq. (4) (once per timed-out flight), cwnd = LW = 1 SMSS. */
  onTimeout(_now: number, flight: number): void {
    if (!this.afterTimeout) {
      this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.smss);
    }
    this.afterTimeout = true;
    this.cwnd = this.smss;
    this.bytesAcked = 0;
    this.inRecovery = false;
  }

  /** RFC 5681 §4.1: RW = min(IW, cwnd). */
  onIdleRestart(_now: number): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.smss));
    this.bytesAcked = 0;
  }

  snapshot(): Record<string, number | string> {
    return {
      name: this.name,
      smss: this.smss,
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      bytesAcked: this.bytesAcked,
      inRecovery: this.inRecovery ? 1 : 0,
      afterTimeout: this.afterTimeout ? 1 : 0,
    };
  }

  restore(s: Record<string, number | string>): void {
    this.smss = Number(s.smss);
    this.cwnd = Number(s.cwnd);
    this.ssthresh = Number(s.ssthresh);
    this.bytesAcked = Number(s.bytesAcked ?? 0);
    this.inRecovery = Number(s.inRecovery ?? 0) === 1;
    this.afterTimeout = Number(s.afterTimeout ?? 0) === 1;
  }
}
