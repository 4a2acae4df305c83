/**
 * CUBIC (RFC 9438), bytes-based. In congestion avoidance the window follows
 *   W_cubic(t) = C*(t - K)^3 + W_max            (§4.2, eq. 1; t in seconds since the epoch)
 *   K = cbrt((W_max - cwnd_epoch) / C)           (§4.2, eq. 2)
 * with C = 0.4 segments/s^3 (scaled by SMSS here since windows are bytes), so it is concave up to
 * W_max (the window at the last loss) and convex beyond it. A Reno-friendly estimate W_est (§4.3)
 * takes over where plain Reno would be faster (short RTTs, small windows). On loss
 * ssthresh = flight * beta_cubic (0.7, §4.6), and W_max is lowered further when the window was
 * still shrinking (fast convergence, §4.7). Time comes in as `now` (ms) from the engine's Clock.
 */

import type { CongestionControl } from "./congestion.ts";
import { INITIAL_SSTHRESH, initialWindow, isAppLimited, slowStart } from "./cwnd.ts";

/** C (§5.1): 0.4 segments per second cubed. */
export const CUBIC_C = 0.4;
/** beta_cubic (§4.6, §5.1): the multiplicative decrease factor. */
export const CUBIC_BETA = 0.7;
/** alpha_cubic (§4.3, eq. 5): Reno-friendly additive increase, 3*(1-beta)/(1+beta). */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** RFC 9438 eq. (2), in bytes: the time (s) for W_cubic to climb from cwnd_epoch back to W_max. */
export function cubicK(wMax: number, cwndEpoch: number, smss: number): number {
  return Math.cbrt((wMax - cwndEpoch) / (CUBIC_C * smss));
}

/** RFC 9438 eq. (1), in bytes, at `t` seconds since the epoch. */
export function wCubic(t: number, k: number, wMax: number, smss: number): number {
  const d = t - k;
  return CUBIC_C * smss * d * d * d + wMax;
}

export class Cubic implements CongestionControl {
  readonly name = "cubic" as const;
  smss: number;
  cwnd: number;
  ssthresh = INITIAL_SSTHRESH;
  /** W_max in bytes: the window just before the last reduction (after fast convergence). */
  wMax = 0;
  /** cwnd_prev (§4.3): cwnd when ssthresh was last set; W_est reaching it switches alpha to 1. */
  cwndPrev = 0;
  /** Start of the current congestion avoidance stage (ms), valid when inEpoch. */
  epochStart = 0;
  inEpoch = false;
  /** cwnd at the epoch start (bytes). */
  cwndEpoch = 0;
  /** K (s) for the current epoch. */
  k = 0;
  /** Reno-friendly estimate W_est (bytes, fractional). */
  wEst = 0;
  /** Fractional cwnd growth (bytes) not yet added to the integer cwnd. */
  frac = 0;
  inRecovery = false;
  /** Set by onTimeout until the next ACK of new data (RFC 5681 §3.1: hold ssthresh on repeats). */
  afterTimeout = false;
  /** The next epoch is the first congestion avoidance after an RTO (§4.8: W_max = cwnd, K = 0). */
  timeoutEpoch = false;
  /** §4.7: fast convergence on (the RFC's default). */
  fastConvergence = true;

  constructor(smss: number, _now: number) {
    this.smss = smss;
    this.cwnd = initialWindow(smss);
  }

  onAck(acked: number, now: number, srtt: number, flight: number): void {
    if (!(acked > 0) || this.inRecovery) return;
    this.afterTimeout = false;
    if (isAppLimited(this.cwnd, flight)) return;
    if (this.cwnd < this.ssthresh) {
      acked = slowStart(this, acked);
      if (acked === 0) return;
    }
    if (!this.inEpoch) this.#startEpoch(now);
    const smss = this.smss;
    const cwnd = this.cwnd + this.frac;
    const t = (now - this.epochStart) / 1000;

    // §4.3: W_est grows like Reno with alpha_cubic, or alpha 1 once past cwnd_prev.
    const alpha = this.wEst >= this.cwndPrev ? 1 : CUBIC_ALPHA;
    this.wEst += (alpha * acked * smss) / cwnd;

    let next: number;
    if (wCubic(t, this.k, this.wMax, smss) < this.wEst) {
      // Reno-friendly region: cwnd = W_est.
      next = Math.max(this.wEst, cwnd);
    } else {
      // §4.2: aim at W_cubic one RTT ahead, clamped to [cwnd, 1.5*cwnd], and close
      // (target - cwnd)/cwnd per SMSS acknowledged.
      let target = wCubic(t + srtt / 1000, this.k, this.wMax, smss);
      if (target < cwnd) target = cwnd;
      else if (target > 1.5 * cwnd) target = 1.5 * cwnd;
      next = cwnd + ((target - cwnd) * acked) / cwnd;
    }
    this.cwnd = Math.floor(next);
    this.frac = next - this.cwnd;
  }

  /** §4.6 and §4.7: W_max (fast convergence), ssthresh = max(flight*beta, 2*SMSS), cwnd = ssthresh. */
  onLoss(_now: number, flight: number): void {
    this.#reduce(flight);
    this.cwnd = this.ssthresh;
    this.inRecovery = true;
  }

  onRecoveryExit(_now: number): void {
    if (!this.inRecovery) return;
    this.inRecovery = false;
    this.cwnd = this.ssthresh;
    this.frac = 0;
  }

  /**
   * §4.8: ssthresh with beta_cubic as on loss (once per timed-out flight, RFC 5681 §3.1), cwnd =
   * 1 SMSS; the first congestion avoidance after it uses W_max = cwnd_epoch and K = 0.
   */
  onTimeout(_now: number, flight: number): void {
    if (!this.afterTimeout) this.#reduce(flight);
    this.afterTimeout = true;
    this.timeoutEpoch = true;
    this.inEpoch = false;
    this.cwnd = this.smss;
    this.frac = 0;
    this.inRecovery = false;
  }

  /**
   * RFC 5681 §4.1: cwnd = min(cwnd, IW). The epoch restarts too, so W_cubic's clock does not count
   * the idle time (which would otherwise make the window jump; Linux shifts its epoch likewise).
   */
  onIdleRestart(_now: number): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.smss));
    this.frac = 0;
    this.inEpoch = false;
  }

  snapshot(): Record<string, number | string> {
    return {
      name: this.name,
      smss: this.smss,
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      wMax: this.wMax,
      cwndPrev: this.cwndPrev,
      epochStart: this.epochStart,
      inEpoch: this.inEpoch ? 1 : 0,
      cwndEpoch: this.cwndEpoch,
      k: this.k,
      wEst: this.wEst,
      frac: this.frac,
      inRecovery: this.inRecovery ? 1 : 0,
      afterTimeout: this.afterTimeout ? 1 : 0,
      timeoutEpoch: this.timeoutEpoch ? 1 : 0,
      fastConvergence: this.fastConvergence ? 1 : 0,
    };
  }

  /**
   * Restore from `snapshot()`. `epochStart` is a time on the old host's clock: a migrating engine
   * should shift it by (new clock - old clock) or call onIdleRestart.
   */
  restore(s: Record<string, number | string>): void {
    const n = (key: string, d = 0) => (s[key] === undefined ? d : Number(s[key]));
    this.smss = n("smss", this.smss);
    this.cwnd = n("cwnd", this.cwnd);
    this.ssthresh = n("ssthresh", INITIAL_SSTHRESH);
    this.wMax = n("wMax");
    this.cwndPrev = n("cwndPrev");
    this.epochStart = n("epochStart");
    this.inEpoch = n("inEpoch") === 1;
    this.cwndEpoch = n("cwndEpoch");
    this.k = n("k");
    this.wEst = n("wEst");
    this.frac = n("frac");
    this.inRecovery = n("inRecovery") === 1;
    this.afterTimeout = n("afterTimeout") === 1;
    this.timeoutEpoch = n("timeoutEpoch") === 1;
    this.fastConvergence = n("fastConvergence", 1) === 1;
  }

  #reduce(flight: number): void {
    const cwnd = this.cwnd;
    this.cwndPrev = cwnd;
    this.wMax = this.fastConvergence && cwnd < this.wMax ? (cwnd * (1 + CUBIC_BETA)) / 2 : cwnd;
    this.ssthresh = Math.max(Math.floor(flight * CUBIC_BETA), 2 * this.smss);
    this.inEpoch = false;
    this.frac = 0;
  }

  /** §4.2: the congestion avoidance stage begins; K from W_max and cwnd_epoch. */
  #startEpoch(now: number): void {
    this.inEpoch = true;
    this.epochStart = now;
    this.cwndEpoch = this.cwnd;
    this.wEst = this.cwnd;
    if (this.timeoutEpoch || this.wMax <= this.cwnd) {
      // §4.8 after an RTO; and, as Linux does, when slow start ended without a loss or already
      // passed W_max: start on the convex side at the current window.
      this.timeoutEpoch = false;
      this.wMax = this.cwnd;
      this.k = 0;
    } else {
      this.k = cubicK(this.wMax, this.cwnd, this.smss);
    }
  }
}
