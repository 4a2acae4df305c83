/**
 * Two ends of a weft cable on loopback (tcp:// and tls://), frames from an in-process generator:
 * frames/s and Gbit/s received. Both ends live in this process, so the figure includes both
 * sides' work (framing, TLS on both ends) on the 2 shared cores.
 */

import type { Endpoint } from "../core/endpoint.ts";
import { silentLogger } from "../core/log.ts";
import { loadOrCreateIdentity } from "../cable/identity.ts";
import { listenEndpoints, openEndpoint } from "../cable/mod.ts";
import { fmt, median, table } from "./stats.ts";

async function once(scheme: "tcp" | "tls", frameBytes: number, ms: number, dir: string) {
  const accepted: Endpoint[] = [];
  const listener = await listenEndpoints(`${scheme}://127.0.0.1:0?token-file=${dir}/tokens`, {
    logger: silentLogger,
    stateDir: `${dir}/state`,
    accept: (ep) => void accepted.push(ep),
  });
  const fp = (await loadOrCreateIdentity(`${dir}/state`)).fingerprint;
  const url = `${listener.url}?token=bench${scheme === "tls" ? `&fp=${fp}` : ""}`;
  const a = await openEndpoint(url, { logger: silentLogger });
  while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5));
  let got = 0;
  accepted[0].setSink(() => got++);
  const f = new Uint8Array(frameBytes);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5]);
  // Offer frames each turn until the cable refuses one (its batch buffers are full), so the
  // generator runs at the cable's pace; at most 4 MiB per turn.
  const perTurn = Math.max(1, Math.floor((4 * 1024 * 1024) / (frameBytes + 2)));
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < perTurn && a.send(f); i++);
    await new Promise((r) => setTimeout(r, 0));
  }
  const secs = (performance.now() - t0) / 1000;
  const rate = got / secs;
  a.close();
  listener.close();
  for (const e of accepted) e.close();
  await listener.closed;
  return rate;
}

export async function tlsCable(runs: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "weft-bench-" });
  await Deno.writeTextFile(`${dir}/tokens`, "bench\n");
  const rows: string[][] = [];
  try {
    for (const scheme of ["tcp", "tls"] as const) {
      for (const bytes of [64, 1500]) {
        const rates = [];
        for (let i = 0; i < runs; i++) rates.push(await once(scheme, bytes, 1500, dir));
        const r = median(rates);
        rows.push([scheme, String(bytes), `${fmt(r)}/s`, ((r * bytes * 8) / 1e9).toFixed(2)]);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return `### Cable on loopback, both ends in one process (median of ${runs})\n\n` +
    table(["cable", "frame B", "frames/s", "Gbit/s"], rows);
}
