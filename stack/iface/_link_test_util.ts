/**
 * Test helper: two (or more) Ifaces joined by an in-memory Ethernet segment on a ManualClock.
 * Frames are copied into a queue (as a real NIC endpoint copies into its batch) and delivered by
 * `run()`, so no interface is re-entered from inside its own transmit.
 */

import { ManualClock } from "../../core/clock.ts";
import { SeededRng } from "../../core/rng.ts";
import { type Cidr, parse_cidr } from "../addr.ts";
import { Iface } from "./iface.ts";

export const MAC_A = 0x02000000000a;
export const MAC_B = 0x02000000000b;

export function cidr(text: string): Cidr {
  const c = parse_cidr(text);
  if (!c) throw new Error(`bad cidr ${text}`);
  return c;
}

export class TestLink {
  readonly clock = new ManualClock(1_000_000);
  readonly rng = new SeededRng(7);
  readonly ifaces: Iface[] = [];
  /** Every frame each interface sent (copies), by interface index. */
  readonly sent: Uint8Array[][] = [];
  readonly #q: Array<{ from: number; f: Uint8Array }> = [];
  /** When false, frames are recorded but not delivered (a cut cable). */
  connected = true;

  add(mac: number, mtu = 1500): Iface {
    const i = this.ifaces.length;
    this.sent.push([]);
    const iface = new Iface((f) => {
      const c = f.slice();
      this.sent[i].push(c);
      if (this.connected) this.#q.push({ from: i, f: c });
      return true;
    }, { mac, mtu, clock: this.clock, rng: this.rng, name: `if${i}` });
    this.ifaces.push(iface);
    return iface;
  }

  /** Deliver queued frames to every other interface (a hub) until quiet. */
  run(): void {
    for (let n = 0; this.#q.length > 0 && n < 100_000; n++) {
      const { from, f } = this.#q.shift()!;
      this.ifaces.forEach((x, i) => {
        if (i !== from) x.receiveFrame(f);
      });
    }
  }

  /** Let `ms` of simulated time pass, running every deadline on the way. */
  tick(ms: number): void {
    const end = this.clock.now() + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      this.run();
      const now = this.clock.now();
      let next = Infinity;
      for (const x of this.ifaces) next = Math.min(next, x.poll(now));
      this.run();
      if (next <= now) continue;
      if (now >= end) return;
      this.clock.advance(Math.min(next, end) - now);
    }
    throw new Error("tick: no progress");
  }

  clearSent(): void {
    for (const s of this.sent) s.length = 0;
  }
}

/** The EtherType of a frame. */
export function ethertype(f: Uint8Array): number {
  return (f[12] << 8) | f[13];
}
