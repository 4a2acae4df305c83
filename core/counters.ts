/**
 * Counters for frame endpoints and switch ports. Plain numeric fields so the hot path pays one
 * property increment per frame; drops are rare and keyed by a reason string.
 */

export interface EndpointStats {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Dropped frames by reason (`oversize`, `queueFull`, `noSink`, …). */
  drops: Record<string, number>;
}

export class FrameCounters implements EndpointStats {
  framesIn = 0;
  bytesIn = 0;
  framesOut = 0;
  bytesOut = 0;
  drops: Record<string, number> = {};

  countIn(bytes: number): void {
    this.framesIn++;
    this.bytesIn += bytes;
  }

  countOut(bytes: number): void {
    this.framesOut++;
    this.bytesOut += bytes;
  }

  /** Count a dropped frame; always returns false so `return counters.drop("x")` reads well. */
  drop(reason: string, n = 1): false {
    this.drops[reason] = (this.drops[reason] ?? 0) + n;
    return false;
  }

  totalDrops(): number {
    let n = 0;
    for (const k in this.drops) n += this.drops[k];
    return n;
  }

  snapshot(): EndpointStats {
    return {
      framesIn: this.framesIn,
      bytesIn: this.bytesIn,
      framesOut: this.framesOut,
      bytesOut: this.bytesOut,
      drops: { ...this.drops },
    };
  }
}
