/**
 * RACK loss detection (RFC 8985 §6): a segment is lost when a segment sent after it has been
 * delivered and more than RACK.rtt + reo_wnd passed since it was sent. Time, not DupThresh
 * counting (RFC 6675), decides, so reordering within reo_wnd costs no retransmission, and a lost
 * retransmission is found like any other segment (no RTO needed). reo_wnd starts at min_RTT/4 and
 * grows by that step per round trip with D-SACKs (spurious retransmissions, §6.2 step 4), back to
 * one step after 16 recoveries without one.
 *
 * The state is plain numbers (snapshot as is); the per-segment transmit times live in a SegLog.
 */

import { SEG_EVER_RETRANS, SEG_LOST, SEG_RETRANS, SEG_SACKED, type SegLog } from "./seg_log.ts";
import { seq_ge, seq_gt, seq_lt } from "./seq.ts";

/** RFC 8985 §6.2: reordering window resets after this many recoveries without a D-SACK. */
const REO_WND_PERSIST = 16;
/** Cap on the D-SACK multiplier (reo_wnd never exceeds SRTT anyway). */
const REO_WND_MULT_MAX = 32;
const DUP_THRESH = 3;

export type RackSnapshot = Record<string, number | boolean>;

export class Rack {
  /** RACK.xmit_ts / RACK.end_seq: the most recently sent segment that was delivered. */
  xmitTs = 0;
  endSeq = 0;
  valid = false;
  /** RACK.rtt: the RTT of that segment (ms). */
  rtt = 0;
  /** RACK.min_RTT (ms; 0 = no sample yet). */
  minRtt = 0;
  reoWndMult = 1;
  reoWndPersist = REO_WND_PERSIST;
  /** RACK.reordering_seen. */
  reorderingSeen = false;
  /** RACK.fack: the highest end sequence delivered; `priorFack` is its value before this ACK. */
  fack = 0;
  fackValid = false;
  priorFack = 0;
  priorFackValid = false;
  /** RACK.dsack_round: SND.MAX when reo_wnd last grew (-1: none). */
  dsackRound = -1;
  /** Segments marked lost by the last detectLoss. */
  lostNow = 0;

  /** An RTT sample from any source (timestamps or RACK): the path's minimum. */
  noteRtt(r: number): void {
    if (r > 0 && (this.minRtt === 0 || r < this.minRtt)) this.minRtt = r;
  }

  /** Start of one ACK's processing: reordering is judged against the FACK before it. */
  beginAck(): void {
    this.priorFack = this.fack;
    this.priorFackValid = this.fackValid;
  }

  /**
   * Entry `i` of `log` was newly delivered (cumulatively ACKed or SACKed): RFC 8985 §6.2 steps 1–2
   * (RACK_update, RACK_detect_reordering). `tsecr` is the ACK's TSecr (-1 without timestamps) and
   * `tsOf(t)` the TSval we sent at time t.
   */
  delivered(log: SegLog, i: number, now: number, tsecr: number, tsOffset: number): void {
    const f = log.flags[i];
    const x = log.xmit[i];
    const e = log.end[i];
    const rtt = now - x;
    let use = true;
    if (f & SEG_EVER_RETRANS) {
      // Which transmission was delivered is ambiguous: the echoed TSval, or an RTT shorter than
      // the path's minimum, shows it was an earlier one (RFC 8985 §6.2 step 2).
      if (tsecr >= 0 && seq_lt(tsecr, (Math.floor(x) + tsOffset) >>> 0)) use = false;
      else if (rtt < this.minRtt) use = false;
    }
    if (use) {
      this.rtt = rtt;
      this.noteRtt(rtt);
      if (!this.valid || x > this.xmitTs || (x === this.xmitTs && seq_gt(e, this.endSeq))) {
        this.xmitTs = x;
        this.endSeq = e;
        this.valid = true;
      }
    }
    // Step 3: an original transmission delivered below what was already delivered is reordering.
    if (this.priorFackValid && seq_lt(e, this.priorFack) && !(f & SEG_EVER_RETRANS)) {
      this.reorderingSeen = true;
    }
    if (!this.fackValid || seq_gt(e, this.fack)) {
      this.fack = e;
      this.fackValid = true;
    }
  }

  /** A D-SACK arrived (a spurious retransmission): widen reo_wnd, once per round trip (§6.2 step 4). */
  onDsack(sndUna: number, sndMax: number): void {
    if (this.dsackRound >= 0 && seq_ge(sndUna, this.dsackRound)) this.dsackRound = -1;
    if (this.dsackRound < 0) {
      this.dsackRound = sndMax;
      if (this.reoWndMult < REO_WND_MULT_MAX) this.reoWndMult++;
      this.reoWndPersist = REO_WND_PERSIST;
    }
  }

  /** A loss recovery ended: after 16 without a D-SACK the window shrinks back (§6.2 step 4). */
  recoveryDone(): void {
    if (--this.reoWndPersist <= 0) {
      this.reoWndMult = 1;
      this.reoWndPersist = REO_WND_PERSIST;
    }
  }

  /**
   * RACK.reo_wnd (RFC 8985 §6.2 step 4): zero while no reordering was ever seen and a loss is
   * already evident (in recovery, or DupThresh segments SACKed), so such losses are repaired as
   * fast as RFC 6675 would; min(mult * min_RTT / 4, SRTT) otherwise.
   */
  reoWnd(inRecovery: boolean, sackedBytes: number, mss: number, srtt: number): number {
    if (!this.reorderingSeen && (inRecovery || sackedBytes >= DUP_THRESH * mss)) return 0;
    return Math.min((this.reoWndMult * this.minRtt) / 4, srtt);
  }

  /**
   * RFC 8985 §6.2 step 5 (RACK_detect_loss): mark lost every outstanding segment sent before the
   * RACK segment whose deadline xmit + RACK.rtt + reo_wnd passed. Returns the time until the next
   * such deadline (0: none), for the reordering timer. Entries are in sequence order and first
   * transmissions in time order too, so the scan stops at the first never-retransmitted segment
   * sent after the RACK one.
   */
  detectLoss(log: SegLog, now: number, reoWnd: number): number {
    this.lostNow = 0;
    if (!this.valid) return 0;
    let timeout = 0;
    const flags = log.flags, xmit = log.xmit, end = log.end;
    for (let i = log.head; i < log.tail; i++) {
      const f = flags[i];
      if (f & SEG_SACKED) continue;
      if ((f & (SEG_LOST | SEG_RETRANS)) === SEG_LOST) continue; // waiting for its retransmission
      const x = xmit[i];
      if (!(this.xmitTs > x || (this.xmitTs === x && seq_gt(this.endSeq, end[i])))) {
        if (!(f & SEG_EVER_RETRANS)) break;
        continue;
      }
      const remaining = x + this.rtt + reoWnd - now;
      if (remaining <= 0) {
        log.setFlags(i, (f | SEG_LOST) & ~SEG_RETRANS);
        this.lostNow++;
      } else if (remaining > timeout) timeout = remaining;
    }
    return timeout;
  }

  snapshot(now: number): RackSnapshot {
    return {
      xmitTs: this.xmitTs - now,
      endSeq: this.endSeq,
      valid: this.valid,
      rtt: this.rtt,
      minRtt: this.minRtt,
      reoWndMult: this.reoWndMult,
      reoWndPersist: this.reoWndPersist,
      reorderingSeen: this.reorderingSeen,
      fack: this.fack,
      fackValid: this.fackValid,
      dsackRound: this.dsackRound,
    };
  }

  restore(s: RackSnapshot, now: number): void {
    const n = (k: string, d: number) => (typeof s[k] === "number" ? s[k] as number : d);
    this.xmitTs = now + n("xmitTs", 0);
    this.endSeq = n("endSeq", 0) >>> 0;
    this.valid = s.valid === true;
    this.rtt = n("rtt", 0);
    this.minRtt = n("minRtt", 0);
    this.reoWndMult = n("reoWndMult", 1);
    this.reoWndPersist = n("reoWndPersist", REO_WND_PERSIST);
    this.reorderingSeen = s.reorderingSeen === true;
    this.fack = n("fack", 0) >>> 0;
    this.fackValid = s.fackValid === true;
    this.dsackRound = n("dsackRound", -1);
  }
}
