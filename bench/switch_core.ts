/**
 * In-process switch core: frames/s through `Switch` with pair endpoints whose far ends only count,
 * so what is measured is classification, learning, lookup and dispatch — the frame path itself.
 * The generator rewrites the destination MAC in place per frame to spread lookups over a table of
 * the given size (the pair delivers synchronously, so reusing one buffer is within the contract).
 */

import { createPair } from "../cable/pair.ts";
import { Switch } from "../switch/switch.ts";

export interface CoreCase {
  frameBytes: number;
  ports: number;
  /** MAC table entries the destinations are spread over. */
  macs: number;
  /** How long one measurement runs. */
  ms: number;
}

export function runCore(c: CoreCase): number {
  const sw = new Switch({ ports: c.ports, macLimit: Math.max(65536, c.macs + c.ports) });
  const received = new Array(c.ports).fill(0);
  const hosts = [];
  for (let i = 0; i < c.ports; i++) {
    const [a, b] = createPair(`p${i}`);
    b.setSink(() => received[i]++);
    sw.attach(a);
    hosts.push(b);
  }
  // Learn c.macs addresses: address k lives behind port k % ports.
  const f = new Uint8Array(c.frameBytes);
  f[0] = 0xff, f[1] = 0xff, f[2] = 0xff, f[3] = 0xff, f[4] = 0xff, f[5] = 0xff;
  f[6] = 0x02;
  f[12] = 0x88, f[13] = 0xb5;
  for (let k = 0; k < c.macs; k++) {
    f[9] = k >> 16, f[10] = (k >> 8) & 0xff, f[11] = k & 0xff;
    hosts[k % c.ports].send(f);
  }
  // Unicast: from the port after the one owning the destination, so nothing is filtered.
  f[0] = 0x02, f[1] = 0, f[2] = 0;
  f[6] = 0x02, f[7] = 0, f[8] = 0, f[9] = 0xff, f[10] = 0xff; // source 02:00:00:ff:ff:<port>
  let frames = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < c.ms) {
    for (let i = 0; i < 4096; i++, frames++) {
      const k = frames % c.macs;
      const from = (k + 1) % c.ports;
      f[3] = k >> 16, f[4] = (k >> 8) & 0xff, f[5] = k & 0xff, f[11] = from;
      hosts[from].send(f);
    }
    t = performance.now();
  }
  const rate = frames / ((t - t0) / 1000);
  const total = received.reduce((a, b) => a + b, 0);
  sw.close();
  if (total < frames) throw new Error(`switch core lost frames: ${total} of ${frames}`);
  return rate;
}
