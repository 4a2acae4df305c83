/**
 * The retransmission timeout (RFC 6298): smoothed RTT, RTT variation and RTO in milliseconds.
 * Only the arithmetic lives here; which segments give samples (Karn's rule, RFC 6298 §3: none
 * from retransmitted segments unless timestamps disambiguate them) and when the timer runs are the
 * engine's job.
 */

export interface RttOptions {
  /** RTO before any sample, RFC 6298 (2.1): 1 s. */
  initialRto?: number;
  /**
   * Lower bound on the RTO: 200 ms, as Linux (TCP_RTO_MIN). RFC 6298 (2.4) says the RTO SHOULD be
   * rounded up to 1 s; that conservative floor costs up to a second per tail loss on today's short
   * paths, so we follow the dominant deployed practice and accept a slightly higher chance of a
   * spurious timeout. Pass 1000 for the RFC's value.
   */
  minRto?: number;
  /** Upper bound, RFC 6298 (2.5): at least 60 s. */
  maxRto?: number;
  /** Clock granularity G in ms, RFC 6298 (2.2)/(2.3). */
  clockGranularity?: number;
}

/** alpha = 1/8, beta = 1/4, K = 4 (RFC 6298 §2). */
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;

export class RttEstimator {
  /** Smoothed RTT in ms; 0 before the first sample. */
  srtt = 0;
  /** RTT variation in ms. */
  rttvar = 0;
  /** Current retransmission timeout in ms (backed off by `backoff`). */
  rto: number;
  readonly initialRto: number;
  readonly minRto: number;
  readonly maxRto: number;
  readonly clockGranularity: number;
  #has = false;

  constructor(opts: RttOptions = {}) {
    this.initialRto = opts.initialRto ?? 1000;
    this.minRto = opts.minRto ?? 200;
    this.maxRto = opts.maxRto ?? 60000;
    this.clockGranularity = opts.clockGranularity ?? 1;
    this.rto = this.#clamp(this.initialRto);
  }

  get hasSample(): boolean {
    return this.#has;
  }

  /**
   * One RTT measurement R in ms. First: SRTT = R, RTTVAR = R/2 (2.2); then RTTVAR = 3/4 RTTVAR +
   * 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R, RTTVAR updated first with the old SRTT (2.3).
   * RTO = SRTT + max(G, 4 RTTVAR), clamped to [minRto, maxRto]; this also undoes any backoff (the
   * RFC's 5.7 note: a new sample recomputes the RTO). Negative or non-finite samples are ignored.
   */
  sample(rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    if (!this.#has) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
      this.#has = true;
    } else {
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - rttMs);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * rttMs;
    }
    this.rto = this.#clamp(this.srtt + Math.max(this.clockGranularity, K * this.rttvar));
  }

  /** RTO expired: RTO = min(2 RTO, maxRto) (5.5). */
  backoff(): void {
    this.rto = Math.min(this.rto * 2, this.maxRto);
  }

  snapshot(): { srtt: number; rttvar: number; rto: number; has: boolean } {
    return { srtt: this.srtt, rttvar: this.rttvar, rto: this.rto, has: this.#has };
  }

  restore(s: { srtt: number; rttvar: number; rto: number; has: boolean }): void {
    this.srtt = s.srtt;
    this.rttvar = s.rttvar;
    this.rto = s.rto;
    this.#has = s.has;
  }

  #clamp(rto: number): number {
    return Math.min(Math.max(rto, this.minRto), this.maxRto);
  }
}
