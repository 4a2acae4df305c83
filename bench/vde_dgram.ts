/**
 * The VDE datagram path in frames/s: a weft `vde://` client sends to another through a switch —
 * weft's (in this process) or vde2's `vde_switch` (a separate process) — over real unix datagram
 * sockets. The sender offers 1,024 frames per event-loop turn; the figure is what the receiver got.
 * vde_switch drops what its clients' sockets cannot take at once, weft queues (bounded), so loss
 * is reported next to the rate.
 */

import { openVde } from "../cable/vde.ts";
import { VdeServer } from "../cable/vde_server.ts";
import { Switch } from "../switch/switch.ts";
import { VdeSwitch } from "../tests/_harness/vde_switch.ts";
import { median, table } from "./stats.ts";
import { fmt } from "./stats.ts";

async function run(dir: string, frameBytes: number, ms: number) {
  const a = await openVde(dir, { mtu: 1500 });
  const b = await openVde(dir, { mtu: 1500 });
  let got = 0;
  b.setSink(() => got++);
  const f = new Uint8Array(frameBytes);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5]);
  // b announces itself so that the switch learns its port.
  const hello = new Uint8Array(60);
  hello.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x88, 0xb5]);
  b.send(hello);
  await new Promise((r) => setTimeout(r, 50));
  let sent = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 1024; i++) if (a.send(f)) sent++;
    await new Promise((r) => setTimeout(r, 0));
  }
  await new Promise((r) => setTimeout(r, 100));
  const secs = (performance.now() - t0 - 100) / 1000;
  a.close();
  b.close();
  return { rate: got / secs, loss: 1 - got / Math.max(1, sent) };
}

export async function vdeDgram(runs: number): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "weft-bench-" });
  const rows: string[][] = [];
  try {
    const sw = new Switch();
    const server = await VdeServer.listen(`${tmp}/weft`, {
      attach: (ep, port, description) => sw.attach(ep, { port, description }).number,
    });
    await using vde = await VdeSwitch.start(`${tmp}/vde`);
    for (const bytes of [64, 1500]) {
      const w = [], v = [], wl = [], vl = [];
      for (let i = 0; i < runs; i++) {
        const r1 = await run(server.dir, bytes, 500);
        w.push(r1.rate), wl.push(r1.loss);
        const r2 = await run(vde.dir, bytes, 500);
        v.push(r2.rate), vl.push(r2.loss);
      }
      const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
      rows.push([
        String(bytes),
        `${fmt(median(w))}/s (loss ${pct(median(wl))})`,
        `${fmt(median(v))}/s (loss ${pct(median(vl))})`,
        `${(median(w) / median(v)).toFixed(2)}×`,
      ]);
    }
    server.close();
    await server.closed;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return `### VDE datagram path: weft client → switch → weft client (median of ${runs})\n\n` +
    table(["frame B", "weft switch", "vde_switch", "ratio"], rows);
}
