/**
 * Forwarding under management load (issue 7's benchmark): does serving the API slow the switch?
 *
 * One `weft switch` process (the real CLI, API on loopback, the API served by the same event loop
 * as the frame path — which is the point), and around it:
 *
 * - frames: bench/peers/vde_blast.c, one C process attached to the switch twice with libvdeplug,
 *   a sender of 64-byte frames and a sink that counts them, with at most 768 frames between the
 *   two (within the switch's per-port output queue). So the switch always has input and never
 *   drops, and the rate is its lossless forwarding rate (RFC 2544 §26.1 "throughput"). The JS
 *   blaster and receiver this replaces ran in this process and were the bottleneck: the switch
 *   forwarded ~200 k frames/s at ~60 % of its CPU, and "loss" measured the generator's
 *   starvation. vde_blast still costs about as much CPU per frame as the switch (the kernel's
 *   unix datagram path, both ways), so when pinned it runs SCHED_FIFO on its CPU.
 * - `mac.learned` events: client C (in this process) sends a frame from a new source MAC every
 *   50 ms.
 * - the API load: `SSE` clients on GET /events in a Worker (bench/api_load_client.ts), and `RPS`
 *   requests/s alternating GET /api/v1/switches and GET /metrics from one curl process
 *   (`curlRequests`: SCHED_FIFO when pinned, so that its latencies are the switch's and not its
 *   own wait behind vde_blast; without curl, 10 clients in the Worker). Defaults from the issue:
 *   200 SSE clients, 50 requests/s.
 *
 * Each run measures an idle window then a loaded window (3 s each, the load connected and settled
 * first), alternating, so drift on the noisy 2-core machine hits both alike; a run's loss compares
 * its two windows, and the table gives the median and every run's. A window's rate is exact:
 * vde_blast timestamps the counts it reports. Also reported: API latency p50/p99 over every
 * request of the loaded windows; the share of each window the switch's event loop (its main
 * thread) was runnable — on a CPU or waiting for one (/proc/PID/task/PID/schedstat) — where
 * ~100 % means it never waited for frames, so the switch, not the generator, set the rate; the
 * switch's CPU (all threads, /proc/PID/stat); frames per switch CPU-second and from it the "loss
 * at equal switch CPU", which is what serving the API costs per frame whatever share of the CPU
 * the other processes on the machine left the switch in each window.
 *
 * Two CPU layouts, interleaved run by run: "shared" — the switch, vde_blast and the clients float
 * over the 2 cores, so the loaded figure also pays for the 200 clients' own CPU (as on a small
 * host that also runs the dashboards); "pinned" — the switch process alone on CPU 0 (at nice -20,
 * to keep the machine's other processes off it), vde_blast, curl and this process (churn,
 * Worker) on CPU 1 (`taskset -a -p`), the usual way to keep a load generator off the system
 * under test, so the loss is what serving the API costs the switch.
 * Pinned needs ≥ 2 CPUs and taskset (util-linux); without them only "shared" is measured.
 * vde_blast is built on first use (bench/peers/build_vde_blast.sh: gcc, libvdeplug-dev); without
 * it the benchmark reports why and measures nothing.
 */

import { openVde } from "../cable/vde.ts";
import { run, waitUntil } from "../tests/_harness/process.ts";
import { WeftSwitch } from "../tests/_harness/weft.ts";
import { fmt, median, table } from "./stats.ts";
import { Blaster, ensureVdeBlast } from "./vde_blast.ts";
import {
  canPin,
  cpuIdle,
  cpuSeconds,
  type Layout,
  mainThreadSched,
  pinLayout,
} from "./cpu_layout.ts";

/** Window length: 3 s rather than 1.5 s halves the weight of a scheduling hiccup in a window. */
const WINDOW_MS = 3000;
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

type Kind = "idle" | "loaded";

interface Measures {
  rate: Record<Kind, number[]>;
  perCpu: Record<Kind, number[]>;
  /** The switch's CPU (all threads), in CPUs. */
  switchCpu: Record<Kind, number[]>;
  /** Idle time of the switch's CPU (pinned: CPU 0) or of the machine (shared), in CPUs. */
  idleCpu: Record<Kind, number[]>;
  /** Pinned: the share of CPU 0 neither the switch used nor idle, i.e. other processes'. */
  otherCpu0: Record<Kind, number[]>;
  /**
   * Share of the window the switch's main thread (its event loop: frames and API) was runnable:
   * on a CPU or waiting for one. ~100 %: it never waited for frames, the switch was the
   * bottleneck; less: it waited for the generator.
   */
  busy: Record<Kind, number[]>;
  /** vde_blast's own CPU, in CPUs. */
  blastCpu: Record<Kind, number[]>;
  /** This process's CPU (the API clients, client C), in CPUs. */
  selfCpu: Record<Kind, number[]>;
  lat: number[];
  connect: number[];
}

function newMeasures(): Measures {
  const k = () => ({ idle: [], loaded: [] });
  return {
    rate: k(),
    perCpu: k(),
    switchCpu: k(),
    idleCpu: k(),
    otherCpu0: k(),
    busy: k(),
    blastCpu: k(),
    selfCpu: k(),
    lat: [],
    connect: [],
  };
}

const pct = (x: number) => `${(x * 100).toFixed(0)} %`;

/** Whether `curl` runs here. */
async function hasCurl(): Promise<boolean> {
  return (await run(["curl", "--version"], { timeoutMs: 5_000 }).catch(() => undefined))
    ?.success ?? false;
}

/**
 * The request load: one curl process making `rps` requests/s for `ms` (`--rate`), alternating
 * GET /api/v1/switches and GET /metrics on one keep-alive connection, and writing out each one's
 * status and total time. A C client, so that it can run SCHED_FIFO (`fifo`) on the CPU it
 * shares with vde_blast in the pinned layout and its latencies are the switch's, not its own
 * wait for a CPU — which a Deno client cannot: made SCHED_FIFO, its threads spun on each other
 * and held CPU 1 for minutes. The token goes through a config file, not the command line.
 */
export async function curlRequests(
  config: string,
  url: string,
  token: string,
  rps: number,
  ms: number,
  fifo: boolean,
): Promise<{ latencies: number[]; errors: number }> {
  const n = Math.max(1, Math.round((rps * ms) / 1000));
  const lines = [
    "silent",
    `header = "authorization: Bearer ${token}"`,
    'write-out = "%{http_code} %{time_total}\\n"',
  ];
  for (let i = 0; i < n; i++) {
    lines.push(`url = "${url}${i % 2 === 0 ? "/api/v1/switches" : "/metrics"}"`);
    lines.push('output = "/dev/null"');
  }
  await Deno.writeTextFile(config, lines.join("\n") + "\n", { mode: 0o600 });
  const argv = ["curl", "--rate", `${rps}/s`, "-K", config];
  const r = await run(fifo ? ["chrt", "-f", "2", ...argv] : argv, { timeoutMs: ms + 15_000 });
  const latencies: number[] = [];
  let errors = 0;
  for (const line of r.stdout.split("\n")) {
    const [code, secs] = line.split(" ");
    if (!secs) continue;
    if (code === "200") latencies.push(Number(secs) * 1000);
    else errors++;
  }
  return { latencies, errors: errors + Math.max(0, n - latencies.length - errors) };
}

export async function apiLoad(opts: ApiLoadOptions): Promise<string> {
  const sse = opts.sse ?? Number(Deno.env.get("BENCH_SSE") ?? 200);
  const rps = opts.rps ?? Number(Deno.env.get("BENCH_RPS") ?? 50);
  const title = `### Forwarding under API load: 64 B frames through a \`weft switch\` process, ` +
    `${sse} SSE clients + ${rps} req/s (median of ${opts.runs}; goal ≤ 10 % loss)\n\n`;
  const bin = await ensureVdeBlast();
  if ("skip" in bin) return `${title}Not measured: ${bin.skip}.`;
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
  const ends: { close(): void | Promise<void> }[] = [];
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

    const blaster = await Blaster.start(bin.path, sw.dir);
    ends.push({ close: () => blaster.stop() });
    // C: one new source MAC every 50 ms (locally administered 02:01:…), to a MAC nobody has.
    const c = await openVde(sw.dir, { mtu: 1500 });
    ends.push(c);
    let churn = 0;
    const churnTimer = setInterval(() => {
      const g = new Uint8Array(60);
      g.set([2, 0, 0, 0, 0, 9, 2, 1, 0, (churn >> 16) & 0xff, (churn >> 8) & 0xff, churn & 0xff]);
      g.set([0x88, 0xb5], 12);
      churn++;
      c.send(g);
    }, 50);
    ends.push({ close: () => clearInterval(churnTimer) });
    await new Promise((r) => setTimeout(r, 500)); // warm up (JIT, queues)

    const layouts: Layout[] = (await canPin()) ? ["shared", "pinned"] : ["shared"];
    const m = Object.fromEntries(layouts.map((l) => [l, newMeasures()])) as Record<
      Layout,
      Measures
    >;
    const sample = async () => {
      const [b, cpu, sched, blastCpu, idle, self] = await Promise.all([
        blaster.counts(),
        cpuSeconds(sw.pid),
        mainThreadSched(sw.pid),
        cpuSeconds(blaster.pid),
        cpuIdle(),
        cpuSeconds(Deno.pid),
      ]);
      return { b, cpu, sched, blastCpu, idle, self };
    };
    let lost = 0;
    const window = async (layout: Layout, kind: Kind) => {
      const into = m[layout];
      const s0 = await sample();
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const s1 = await sample();
      const secs = (s1.b.ns - s0.b.ns) / 1e9;
      const frames = s1.b.received - s0.b.received;
      const cpu = s1.cpu - s0.cpu;
      into.rate[kind].push(frames / secs);
      into.perCpu[kind].push(cpu > 0 ? frames / cpu : NaN);
      into.switchCpu[kind].push(cpu / secs);
      const idle = s1.idle.map((v, i) => v - s0.idle[i]);
      into.idleCpu[kind].push(
        (layout === "pinned" ? idle[0] : idle.reduce((x, y) => x + y, 0)) / secs,
      );
      if (layout === "pinned") {
        into.otherCpu0[kind].push(Math.max(0, 1 - cpu / secs - idle[0] / secs));
      }
      into.busy[kind].push((s1.sched.run - s0.sched.run + s1.sched.wait - s0.sched.wait) / secs);
      into.blastCpu[kind].push((s1.blastCpu - s0.blastCpu) / secs);
      into.selfCpu[kind].push((s1.self - s0.self) / secs);
      lost = s1.b.lost;
    };
    let errors = 0, events = 0, fifo = false;
    const curl = await hasCurl();
    try {
      for (let i = 0; i < opts.runs; i++) {
        for (const layout of layouts) {
          const into = m[layout];
          const layoutFifo = await pinLayout(layout, sw.pid, blaster.pid);
          fifo ||= layoutFifo;
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          await window(layout, "idle");
          const ready = next(worker, "ready");
          // Without curl, the Worker makes the requests too (10 clients, as the issue's load).
          const clients = curl ? 0 : 10;
          worker.postMessage({ cmd: "start", url, token, sse, rps: curl ? 0 : rps, clients });
          into.connect.push(
            (await ready.catch((e) => {
              throw workerError ? new Error(`The API load worker failed: ${workerError}`) : e;
            })).connectMs,
          );
          const requests = curl
            ? curlRequests(
              `${tmp}/curl.conf`,
              url,
              token,
              rps,
              SETTLE_MS + WINDOW_MS + 200,
              layoutFifo,
            )
            : undefined;
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          await window(layout, "loaded");
          const done = await requests;
          const stopped = next(worker, "stopped");
          worker.postMessage({ cmd: "stop" });
          const s = await stopped;
          into.lat.push(...(done?.latencies ?? s.latencies));
          errors += s.errors + (done?.errors ?? 0);
          events += s.events;
          const last = (k: Kind) =>
            `${fmt(into.rate[k].at(-1)!)}/s (switch CPU ${pct(into.switchCpu[k].at(-1)!)}, ` +
            `its event loop busy ${pct(into.busy[k].at(-1)!)}, unused CPU ` +
            `${pct(into.idleCpu[k].at(-1)!)}, ` +
            (layout === "pinned" ? `others on CPU 0 ${pct(into.otherCpu0[k].at(-1)!)}, ` : "") +
            `vde_blast CPU ${pct(into.blastCpu[k].at(-1)!)}, ` +
            `clients CPU ${pct(into.selfCpu[k].at(-1)!)})`;
          console.error(
            `api_load: run ${i + 1} ${layout}: idle ${last("idle")}, loaded ${last("loaded")}; ` +
              `load average ` +
              (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
          );
          await new Promise((r) => setTimeout(r, SETTLE_MS)); // let the node close the streams
        }
      }
    } finally {
      await pinLayout("shared", sw.pid, blaster.pid).catch(() => {});
    }

    // What the switch dropped on vde_blast's ports, by port and reason (the window should keep
    // the sink's port at nothing; the sender's port only gets floods, which it reads now and then).
    const report = await sw.counters().catch(() => undefined);
    const dropText = report
      ? report.ports.filter((p) => String(p.endpoint).startsWith("vde_blast")).map((p) => {
        const d = Object.entries(p.endpointDrops as Record<string, number> ?? {});
        return `${String(p.endpoint).split(" ")[1]} ${
          d.map(([k, v]) => `${v} ${k}`).join(", ") || "none"
        }`;
      }).join("; ")
      : "unknown (no counter report)";

    const both = (xs: Record<Kind, number[]>, f: (v: number) => string) =>
      `${f(median(xs.idle))} → ${f(median(xs.loaded))}`;
    const rows = layouts.map((layout) => {
      const x = m[layout];
      // Each run's loss compares two windows measured back to back; their median resists the
      // drift of the shared machine better than a ratio of medians taken over all runs.
      const losses = x.rate.idle.map((v, i) => 1 - x.rate.loaded[i] / v);
      // The same at equal switch CPU: what serving the API costs per frame, whatever share of
      // the CPU the switch got from the rest of the machine in each window.
      const cpuLosses = x.perCpu.idle.map((v, i) => 1 - x.perCpu.loaded[i] / v);
      const lossText = (xs: number[]) =>
        `${(median(xs) * 100).toFixed(1)} % (runs: ${
          xs.map((l) => (l * 100).toFixed(0)).join(", ")
        })`;
      return [
        layout === "shared" ? "shared (all float on 2 cores)" : "pinned (switch alone on CPU 0)",
        `${fmt(median(x.rate.idle))}/s`,
        `${fmt(median(x.rate.loaded))}/s`,
        lossText(losses),
        lossText(cpuLosses),
        `${percentile(x.lat, 50).toFixed(1)} ms`,
        `${percentile(x.lat, 99).toFixed(1)} ms`,
        `${x.lat.length}`,
        `${median(x.connect).toFixed(0)} ms`,
        both(x.busy, pct),
        both(x.switchCpu, pct),
        both(x.perCpu, fmt),
        both(x.blastCpu, pct),
      ];
    });
    return title +
      table(
        [
          "CPU layout",
          "API idle",
          "API loaded",
          "forwarding loss",
          "loss at equal switch CPU",
          "API p50",
          "API p99",
          "requests",
          `${sse} SSE connect`,
          "switch event loop busy, idle → loaded",
          "switch CPU, idle → loaded",
          "frames per switch CPU-second, idle → loaded",
          "vde_blast CPU, idle → loaded",
        ],
        rows,
      ) +
      (errors ? `\n\n${errors} API requests or streams failed.` : "") +
      `\n\n(${WINDOW_MS / 1000} s windows. "Switch event loop busy": share of the window its ` +
      `main thread, which forwards frames and serves the API, was on a CPU or waiting for one; ` +
      `~100 % means it never waited for frames, so the switch, not the generator, set the rate. ` +
      `"Switch CPU": all its threads, in % of one CPU. "Loss at equal switch CPU": 1 − ` +
      `(frames per switch CPU-second loaded / idle)` +
      (layouts.includes("pinned")
        ? `; when pinned, it differs from the forwarding loss by the share of CPU 0 that other ` +
          `processes took from the switch (at nice -20): ${both(m.pinned.otherCpu0, pct)}, ` +
          `idle → loaded. vde_blast SCHED_FIFO when pinned: ${fifo ? "yes" : "no"}`
        : "") +
      `. vde_blast: ${lost} frames lost; switch drops on its ports: ${dropText}. Requests: ` +
      (curl
        ? `curl --rate (SCHED_FIFO above vde_blast when pinned)`
        : `10 clients in the Worker (no curl)`) +
      `. ${churn} new MACs → mac.learned events; ${events} SSE messages received.)`;
  } finally {
    for (const e of ends.reverse()) await Promise.resolve().then(() => e.close()).catch(() => {});
    worker.terminate();
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  console.log(await apiLoad({ runs: Number(Deno.env.get("BENCH_RUNS") ?? 5) }));
}
