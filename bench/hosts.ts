/**
 * Guest ⇄ guest between two "hosts" (namespaces joined by a veth): weft — a switch per host
 * holding its guest's TAP, joined by a TLS cable — against vde_switch per host with `vde_plug`
 * taps, joined by `vde_plug` over a socat TCP pipe. iperf3 (one stream) and a 40 MiB HTTP GET,
 * same run, medians. Both hosts and guests share the 2 cores.
 */

import { Lab } from "../tests/_harness/lab.ts";
import { download, serveRandomFile } from "../tests/_harness/http.ts";
import { type Guest, twoHosts, twoVdeHosts } from "../tests/_harness/two_hosts.ts";
import { median, table } from "./stats.ts";

async function measure(kind: "weft" | "vde", runs: number, seconds: number) {
  await using lab = await Lab.create(`bench-hosts-${kind}`);
  const { guestA, guestB }: { guestA: Guest; guestB: Guest } = kind === "weft"
    ? await twoHosts(lab)
    : await twoVdeHosts(lab);
  await guestA.ns.waitReachable(guestB.ipv4, 20_000);
  const file = await serveRandomFile(guestB.ns, {
    bind: guestB.ipv4,
    mib: 40,
    dir: await lab.mkdir("www"),
  });
  const http: number[] = [], iperf: number[] = [];
  for (let i = 0; i < runs; i++) {
    const d = await download(guestA.ns, file.url, lab.path(`dl${i}`), 120);
    if (d.sha256 !== file.sha256) throw new Error(`${kind}: download ${i} corrupted`);
    http.push(d.mibPerSec);
    await Deno.remove(lab.path(`dl${i}`));
  }
  for (let i = 0; i < runs; i++) {
    const server = guestB.ns.spawn(["iperf3", "-s", "-1", "--forceflush", "-B", guestB.ipv4], {
      name: "iperf3 -s",
    });
    await server.waitForOutput(/Server listening/, 10_000);
    const out = await guestA.ns.execOk(
      ["iperf3", "-c", guestB.ipv4, "-t", String(seconds), "-J"],
      { timeoutMs: (seconds + 30) * 1000 },
    );
    iperf.push(JSON.parse(out).end.sum_received.bits_per_second / 1e9);
    await server.waitExit(5000);
  }
  return { http, iperf };
}

export async function hostsBench(runs: number): Promise<string> {
  const seconds = 3;
  const w = await measure("weft", runs, seconds);
  const v = await measure("vde", runs, seconds);
  const row = (what: string, a: number[], b: number[], unit: string) => [
    what,
    `${median(a).toFixed(2)} ${unit}`,
    `${median(b).toFixed(2)} ${unit}`,
    `${(median(a) / median(b)).toFixed(2)}×`,
  ];
  return `### Guest ⇄ guest across two hosts (median of ${runs})\n\n` +
    table(
      ["test", "weft: tap + TLS cable + tap", "vde_switch + vde_plug over socat TCP", "ratio"],
      [
        row(`iperf3, 1 stream, ${seconds} s`, w.iperf, v.iperf, "Gbit/s"),
        row("HTTP GET 40 MiB", w.http, v.http, "MiB/s"),
      ],
    );
}
