/**
 * Forwarding under management load (issue 7's benchmark): does serving the API slow the switch?
 *
 * One `weft switch` process (the real CLI, API on loopback, the API served by the same event loop
 * as the frame path — which is the point). In this process, two `vde://` datagram clients: A
 * offers 1,024 frames of 64 bytes per event-loop turn to B, and B counts what arrives; a third
 * client C sends a frame from a new source MAC every 50 ms, so `mac.learned` events keep flowing
 * to whoever subscribes. A Worker (bench/api_load_client.ts) is the API load: `SSE` clients on
 * GET /events and `RPS` requests/s spread over 10 clients alternating GET /api/v1/switches and
 * GET /metrics (defaults from the issue: 200 SSE clients, 50 requests/s).
 *
 * Each run measures an idle window then a loaded window (1.5 s each, the load connected and
 * settled first), alternating, so drift on the noisy 2-core machine hits both alike. Reported:
 * median forwarding rates, their ratio (goal: loaded ≥ 90 % of idle), and API latency p50/p99
 * over every request of the loaded windows. The blaster, the switch and the Worker share the 2
 * cores: the figure includes the clients' CPU, as it would on a small host running a dashboard.
 */

import { openVde } from "../cable/vde.ts";
import { waitUntil } from "../tests/_harness/process.ts";
import { WeftSwitch } from "../tests/_harness/weft.ts";
import { fmt, median, table } from "./stats.ts";

const WINDOW_MS = 1500;
const SETTLE_MS = 300;

export interface ApiLoadOptions {
  runs: number;
  sse?: number;
  rps?: number;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

// deno-lint-ignore no-explicit-any
function next(worker: Worker, type: string, timeoutMs = 30_000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.removeEventListener("message", on);
      reject(new Error(`The API load worker did not answer "${type}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (ev: MessageEvent) => {
      if (ev.data?.type !== type) return;
      clearTimeout(timer);
      worker.removeEventListener("message", on);
      resolve(ev.data);
    };
    worker.addEventListener("message", on);
  });
}

export async function apiLoad(opts: ApiLoadOptions): Promise<string> {
  const sse = opts.sse ?? Number(Deno.env.get("BENCH_SSE") ?? 200);
  const rps = opts.rps ?? Number(Deno.env.get("BENCH_RPS") ?? 50);
  const tmp = await Deno.makeTempDir({ prefix: "weft-bench-api-" });
  const state = `${tmp}/state`;
  const sw = await WeftSwitch.start(`${tmp}/sw`, [
    "--api",
    "127.0.0.1:0",
    "--state",
    state,
    "--name",
    "bench",
  ]);
  const worker = new Worker(new URL("./api_load_client.ts", import.meta.url), { type: "module" });
  const ends: { close(): void }[] = [];
  let workerError: unknown;
  worker.onerror = (e) => {
    workerError = e.message;
    e.preventDefault();
  };
  try {
    const url = await waitUntil("the api ready line", () => {
      return /api ready url=(\S+)/.exec(sw.process.errors)?.[1];
    }, { timeoutMs: 15_000 });
    const token = (await Deno.readTextFile(`${state}/api.token`)).trim();

    const a = await openVde(sw.dir, { mtu: 1500 });
    const b = await openVde(sw.dir, { mtu: 1500 });
    const c = await openVde(sw.dir, { mtu: 1500 });
    ends.push(a, b, c);
    let got = 0;
    b.setSink(() => got++);
    const hello = new Uint8Array(60);
    hello.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x88, 0xb5]);
    b.send(hello);
    const f = new Uint8Array(64);
    f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5]);
    // C: one new source MAC every 50 ms (locally administered 02:01:…), to a MAC nobody has.
    let churn = 0;
    const churnTimer = setInterval(() => {
      const g = new Uint8Array(60);
      g.set([2, 0, 0, 0, 0, 9, 2, 1, 0, (churn >> 16) & 0xff, (churn >> 8) & 0xff, churn & 0xff]);
      g.set([0x88, 0xb5], 12);
      churn++;
      c.send(g);
    }, 50);
    ends.push({ close: () => clearInterval(churnTimer) });

    let blasting = true;
    const blaster = (async () => {
      while (blasting) {
        for (let i = 0; i < 1024; i++) a.send(f);
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    ends.push({ close: () => blasting = false });
    await new Promise((r) => setTimeout(r, 500)); // warm up (JIT, queues)

    // The switch's own CPU time (utime + stime, /proc/PID/stat fields 14–15, in 1/100 s): frames
    // per switch-CPU-second separates the node's cost from the clients' and the blaster's, which
    // share the same 2 cores.
    const cpuTicks = async () => {
      const stat = await Deno.readTextFile(`/proc/${sw.pid}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(f[11]) + Number(f[12]);
    };
    const perCpu = { idle: [] as number[], loaded: [] as number[] };
    const window = async (kind: "idle" | "loaded") => {
      const g0 = got, t0 = performance.now(), c0 = await cpuTicks();
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const frames = got - g0, cpu = ((await cpuTicks()) - c0) / 100;
      perCpu[kind].push(cpu > 0 ? frames / cpu : NaN);
      return (frames * 1000) / (performance.now() - t0);
    };
    const idle: number[] = [], loaded: number[] = [], lat: number[] = [], connect: number[] = [];
    let errors = 0, events = 0;
    for (let i = 0; i < opts.runs; i++) {
      idle.push(await window("idle"));
      const ready = next(worker, "ready");
      worker.postMessage({ cmd: "start", url, token, sse, rps, clients: 10 });
      connect.push(
        (await ready.catch((e) => {
          throw workerError ? new Error(`The API load worker failed: ${workerError}`) : e;
        })).connectMs,
      );
      console.error(`api_load: run ${i + 1}: idle ${fmt(idle[i])}/s, load connected`);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      loaded.push(await window("loaded"));
      const stopped = next(worker, "stopped");
      worker.postMessage({ cmd: "stop" });
      const s = await stopped;
      lat.push(...s.latencies);
      errors += s.errors;
      events += s.events;
      await new Promise((r) => setTimeout(r, SETTLE_MS)); // let the node close the streams
    }
    blasting = false;
    await blaster;

    const ratio = median(loaded) / median(idle);
    const rows = [[
      `${fmt(median(idle))}/s`,
      `${fmt(median(loaded))}/s`,
      `${((1 - ratio) * 100).toFixed(1)} %`,
      `${percentile(lat, 50).toFixed(1)} ms`,
      `${percentile(lat, 99).toFixed(1)} ms`,
      `${lat.length}${errors ? ` (${errors} errors)` : ""}`,
      `${median(connect).toFixed(0)} ms`,
      `${fmt(median(perCpu.idle))} → ${fmt(median(perCpu.loaded))} (${
        ((1 - median(perCpu.loaded) / median(perCpu.idle)) * 100).toFixed(1)
      } % more CPU per frame)`,
    ]];
    return `### Forwarding under API load: 64 B frames through a \`weft switch\` process, ` +
      `${sse} SSE clients + ${rps} req/s (median of ${opts.runs}; goal ≤ 10 % loss)\n\n` +
      table(
        [
          "API idle",
          "API loaded",
          "forwarding loss",
          "API p50",
          "API p99",
          "requests",
          `${sse} SSE connect`,
          "frames per switch CPU-second, idle → loaded",
        ],
        rows,
      ) +
      `\n\n(${churn} new MACs during the run → mac.learned events; ` +
      `${events} SSE messages received by the clients.)`;
  } finally {
    for (const e of ends) e.close();
    worker.terminate();
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  console.log(await apiLoad({ runs: Number(Deno.env.get("BENCH_RUNS") ?? 5) }));
}
