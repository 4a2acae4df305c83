/**
 * The forwarding database: (VLAN, MAC) → port, bounded, with lazy ageing.
 *
 * Hot-path shape: one `Map<number, number>` per VLAN keyed by the 48-bit MAC number; the value
 * packs `lastSeenSecond * 65536 + port` into one double, so learning and lookup allocate nothing.
 * Ageing is lazy (checked on lookup, IEEE 802.1Q §8.8.3 ageing time default 300 s); when the table
 * is full, aged entries are swept at most once a second before a new MAC is refused and counted.
 */

const PORT_SPAN = 65536;

export interface FdbEntry {
  vlan: number;
  mac: number;
  port: number;
  /** Seconds since the entry was last refreshed. */
  age: number;
}

export class MacTable {
  readonly limit: number;
  ageingSec: number;
  #vlans = new Map<number, Map<number, number>>();
  #size = 0;
  #lastSweep = -Infinity;
  /** New MACs not learned because the table was full. */
  refusals = 0;
  /** Entries removed because they aged. */
  aged = 0;

  constructor(limit = 65536, ageingSec = 300) {
    this.limit = limit;
    this.ageingSec = ageingSec;
  }

  get size(): number {
    return this.#size;
  }

  #table(vlan: number): Map<number, number> {
    let t = this.#vlans.get(vlan);
    if (t === undefined) this.#vlans.set(vlan, t = new Map());
    return t;
  }

  /**
   * Record that `mac` was seen on `port` in `vlan` at second `now`. Returns the port it was on
   * before when it moved, -1 when it is new, -2 when it was refused, and `port` when unchanged.
   */
  learn(vlan: number, mac: number, port: number, now: number): number {
    const t = this.#table(vlan);
    const v = t.get(mac);
    if (v !== undefined) {
      const old = v % PORT_SPAN;
      if (old === port && v - old === now * PORT_SPAN) return port;
      t.set(mac, now * PORT_SPAN + port);
      return old;
    }
    if (this.#size >= this.limit) {
      if (now - this.#lastSweep >= 1) {
        this.#lastSweep = now;
        this.#sweep(now);
      }
      if (this.#size >= this.limit) {
        this.refusals++;
        return -2;
      }
    }
    t.set(mac, now * PORT_SPAN + port);
    this.#size++;
    return -1;
  }

  /** The port `mac` was last seen on in `vlan`, or -1 when unknown or aged. */
  lookup(vlan: number, mac: number, now: number): number {
    const t = this.#vlans.get(vlan);
    if (t === undefined) return -1;
    const v = t.get(mac);
    if (v === undefined) return -1;
    const port = v % PORT_SPAN;
    if (now - (v - port) / PORT_SPAN > this.ageingSec) {
      t.delete(mac);
      this.#size--;
      this.aged++;
      return -1;
    }
    return port;
  }

  #sweep(now: number): void {
    for (const t of this.#vlans.values()) {
      for (const [mac, v] of t) {
        if (now - Math.floor(v / PORT_SPAN) > this.ageingSec) {
          t.delete(mac);
          this.#size--;
          this.aged++;
        }
      }
    }
  }

  /** Forget entries: all, or those of one port. Returns how many were removed. */
  flush(port?: number): number {
    let n = 0;
    for (const t of this.#vlans.values()) {
      if (port === undefined) {
        n += t.size;
        t.clear();
        continue;
      }
      for (const [mac, v] of t) {
        if (v % PORT_SPAN === port) {
          t.delete(mac);
          n++;
        }
      }
    }
    this.#size -= n;
    return n;
  }

  /** A snapshot for the API and tests (not for the hot path). */
  entries(now: number): FdbEntry[] {
    const out: FdbEntry[] = [];
    for (const [vlan, t] of this.#vlans) {
      for (const [mac, v] of t) {
        const port = v % PORT_SPAN;
        const age = now - (v - port) / PORT_SPAN;
        if (age <= this.ageingSec) out.push({ vlan, mac, port, age });
      }
    }
    return out;
  }
}
