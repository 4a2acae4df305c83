/**
 * `deno task bench [NAME…]`: weft's benchmarks. Each prints a markdown table of medians (and, for
 * real-peer benchmarks, the peer measured in the same run and the ratio) for the README.
 * Names: core (in-process switch core), dgram (the VDE datagram path, weft vs vde_switch),
 * vde (kernel ⇄ kernel through taps and vde_plug, weft vs vde_switch; needs root).
 */

import { runCore } from "./switch_core.ts";
import { vdePeers } from "./vde_peers.ts";
import { vdeDgram } from "./vde_dgram.ts";
import { tlsCable } from "./tls_cable.ts";
import { tapBench } from "./tap.ts";
import { hostsBench } from "./hosts.ts";
import { fmt, medianOf, table } from "./stats.ts";

const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 5);

async function core(): Promise<string> {
  const rows: (string | number)[][] = [];
  for (const frameBytes of [64, 1500]) {
    for (const ports of [2, 16]) {
      for (const macs of [10, 1000, 100_000]) {
        if (ports === 16 && macs === 10) continue;
        const rate = await medianOf(RUNS, () => runCore({ frameBytes, ports, macs, ms: 400 }));
        const gbit = (rate * frameBytes * 8) / 1e9;
        rows.push([frameBytes, ports, macs, `${fmt(rate)}/s`, gbit.toFixed(1)]);
      }
    }
  }
  return `### Switch core, in process (median of ${RUNS}, one core)\n\n` +
    table(["frame B", "ports", "MACs", "frames/s", "Gbit/s"], rows);
}

const benches: Record<string, () => Promise<string>> = {
  core,
  dgram: () => vdeDgram(RUNS),
  cable: () => tlsCable(RUNS),
  tap: () => tapBench(RUNS),
  hosts: () => hostsBench(RUNS),
  vde: () => vdePeers(RUNS),
  stack: () => import("./stack.ts").then((m) => m.stackBench(RUNS)),
  router: () => import("./router.ts").then((m) => m.routerBench(RUNS)),
  api: () => import("./api_load.ts").then((m) => m.apiLoad({ runs: RUNS })),
  gateway: () => import("./gateway.ts").then((m) => m.gatewayBench(RUNS)),
};

const names = Deno.args.length ? Deno.args : Object.keys(benches);
console.log(
  `weft bench — ${new Date().toISOString().slice(0, 10)}, ${Deno.build.target}, ` +
    `${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}\n`,
);
for (const n of names) {
  const b = benches[n];
  if (!b) {
    console.error(`Unknown benchmark "${n}": expected one of ${Object.keys(benches).join(", ")}`);
    Deno.exit(2);
  }
  console.log((await b()) + "\n");
}
