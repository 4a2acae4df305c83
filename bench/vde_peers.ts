/**
 * Kernel ⇄ kernel through two taps plugged by vdeplug4's `vde_plug … tap://` into a switch:
 * weft's switch against vde2's `vde_switch`, same topology, same run (ARCHITECTURE §8).
 * Measures iperf3 (one TCP stream) and an HTTP GET of 40 MiB (curl ← python http.server).
 */

import { Lab } from "../tests/_harness/lab.ts";
import { download, serveRandomFile } from "../tests/_harness/http.ts";
import { median, table } from "./stats.ts";

export interface PeerFigures {
  iperfGbit: number[];
  httpMiBs: number[];
}

async function measure(kind: "weft" | "vde_switch", runs: number, seconds: number) {
  await using lab = await Lab.create(`bench-${kind}`);
  const dir = kind === "weft" ? (await lab.weftSwitch()).dir : (await lab.vdeSwitch()).dir;
  const a = await lab.host("ba", dir, { ipv4: "10.77.0.1/24" });
  const b = await lab.host("bb", dir, { ipv4: "10.77.0.2/24" });
  await a.ns.waitReachable(b.ipv4!);
  const out: PeerFigures = { iperfGbit: [], httpMiBs: [] };
  const file = await serveRandomFile(b.ns, { bind: b.ipv4!, mib: 40, dir: await lab.mkdir("www") });
  for (let i = 0; i < runs; i++) {
    const d = await download(a.ns, file.url, lab.path(`dl${i}`), 120);
    if (d.sha256 !== file.sha256) throw new Error(`${kind}: download ${i} corrupted`);
    out.httpMiBs.push(d.mibPerSec);
    await Deno.remove(lab.path(`dl${i}`));
  }
  for (let i = 0; i < runs; i++) {
    const server = b.ns.spawn(["iperf3", "-s", "-1", "--forceflush", "-B", b.ipv4!], {
      name: "iperf3 -s",
    });
    await server.waitForOutput(/Server listening/, 10_000);
    const r = await a.ns.execOk(["iperf3", "-c", b.ipv4!, "-t", String(seconds), "-J"], {
      timeoutMs: (seconds + 20) * 1000,
    });
    out.iperfGbit.push(JSON.parse(r).end.sum_received.bits_per_second / 1e9);
    await server.waitExit(5000);
  }
  return out;
}

export async function vdePeers(runs: number): Promise<string> {
  const seconds = 3;
  const weft = await measure("weft", runs, seconds);
  const vde = await measure("vde_switch", runs, seconds);
  const row = (what: string, w: number[], v: number[], unit: string) => {
    const mw = median(w), mv = median(v);
    return [
      what,
      `${mw.toFixed(2)} ${unit}`,
      `${mv.toFixed(2)} ${unit}`,
      `${(mw / mv).toFixed(2)}×`,
    ];
  };
  return `### Kernel ⇄ kernel through \`vde_plug … tap://\` on each side (median of ${runs})\n\n` +
    table(["test", "weft switch", "vde_switch", "ratio"], [
      row(`iperf3, 1 stream, ${seconds} s`, weft.iperfGbit, vde.iperfGbit, "Gbit/s"),
      row("HTTP GET 40 MiB", weft.httpMiBs, vde.httpMiBs, "MiB/s"),
    ]);
}
