/**
 * Kernel ⇄ kernel through TAP devices: weft's `tap://` (FFI on /dev/net/tun) against vdeplug4's
 * `vde_plug … tap://`, same topology, same run (ARCHITECTURE §8). Two namespaces, one tap each:
 *
 * - direct: one process joins the two taps — `weft cable tap://wt0 tap://wt1` against
 *   `vde_plug tap://wt0 tap://wt1`. Both create the taps in namespace A and wt1 is then moved to
 *   B (a tap keeps working when moved), so the frame path is read() on one tap, write() on the
 *   other, in one process: the tap I/O itself.
 * - switch: one `weft switch --connect tap://wt0 --connect tap://wt1` (taps and switch in one
 *   process) against vde2's `vde_switch` with a `vde_plug vde://… tap://…` per namespace (three
 *   processes, two datagram hops) — how each attaches namespaces to a switch.
 *
 * Figures: iperf3, one TCP stream (Gbit/s); iperf3 UDP with 18-byte datagrams — 60-byte
 * frames — sent as fast as the sender can, counted as frames per second that arrived on B's tap
 * (its kernel rx counter: each was read from one tap and written to the other, in and out); and
 * both per CPU-second the forwarding processes used meanwhile (utime + stime). The 2 cores are
 * shared by sender, receiver and forwarder, so work per CPU-second says as much as the rate.
 */

import { Lab } from "../tests/_harness/lab.ts";
import type { Netns } from "../tests/_harness/netns.ts";
import { type Background, waitUntil } from "../tests/_harness/process.ts";
import { weftCommand } from "../tests/_harness/weft.ts";
import { fmt, median, table } from "./stats.ts";

type Variant = "weft cable" | "vde_plug" | "weft switch" | "vde_switch + vde_plug";

interface Figures {
  tcpGbit: number[];
  tcpCpu: number[];
  udpFps: number[];
  udpCpu: number[];
}

const SECONDS = 3;

/** CPU seconds (utime + stime) a process has used, from /proc/PID/stat. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
}

async function cpuOf(pids: number[]): Promise<number> {
  let s = 0;
  for (const p of pids) s += await cpuSeconds(p);
  return s;
}

/** Build the topology; returns the namespaces (a: 10.78.0.1, b: 10.78.0.2) and forwarder pids. */
async function build(lab: Lab, v: Variant): Promise<{ a: Netns; b: Netns; pids: number[] }> {
  if (v === "vde_switch + vde_plug") {
    const sw = await lab.vdeSwitch();
    const a = await lab.host("ba", sw.dir, { tap: "wt0", ipv4: "10.78.0.1/24" });
    const b = await lab.host("bb", sw.dir, { tap: "wt1", ipv4: "10.78.0.2/24" });
    return { a: a.ns, b: b.ns, pids: [sw.pid, a.plug.pid, b.plug.pid] };
  }
  const a = await lab.netns("ba");
  const b = await lab.netns("bb");
  const argv = v === "vde_plug" ? ["vde_plug", "tap://wt0", "tap://wt1"] : weftCommand(
    v === "weft cable"
      ? ["cable", "tap://wt0", "tap://wt1"]
      : ["switch", "--sock", lab.path("sw"), "--connect", "tap://wt0", "--connect", "tap://wt1"],
  );
  const p: Background = a.spawn(argv, { name: v });
  await waitUntil(`${v}: wt0 and wt1 in ${a.name}`, async () => {
    if (p.exitStatus) throw new Error(`${v} exited\n${p}`);
    const links = await a.ip("-o", "link");
    return links.includes(" wt0:") && links.includes(" wt1:");
  }, { timeoutMs: 30_000, intervalMs: 100 });
  await a.ip("link", "set", "wt1", "netns", b.name);
  await a.linkUp("wt0");
  await b.linkUp("wt1");
  await a.addAddress("wt0", "10.78.0.1/24");
  await b.addAddress("wt1", "10.78.0.2/24");
  return { a, b, pids: [p.pid] };
}

/** Packets wt1 in b has received: frames the forwarder wrote into it (kernel counter). */
async function rxPackets(b: Netns): Promise<number> {
  const [link] = JSON.parse(await b.ip("-j", "-s", "link", "show", "wt1"));
  return link.stats64.rx.packets;
}

/** One iperf3 run from a to b; returns the client's JSON. */
async function iperf(a: Netns, b: Netns, args: string[]): Promise<Record<string, unknown>> {
  const server = b.spawn(["iperf3", "-s", "-1", "--forceflush", "-B", "10.78.0.2"], {
    name: "iperf3 -s",
  });
  await server.waitForOutput(/Server listening/, 10_000);
  const out = await a.execOk(["iperf3", "-c", "10.78.0.2", "-t", String(SECONDS), "-J", ...args], {
    timeoutMs: (SECONDS + 20) * 1000,
  });
  await server.waitExit(5000);
  await server.stop();
  return JSON.parse(out);
}

async function measure(v: Variant, runs: number): Promise<Figures> {
  await using lab = await Lab.create(`bench-tap-${v}`);
  const { a, b, pids } = await build(lab, v);
  await a.waitReachable("10.78.0.2");
  const out: Figures = { tcpGbit: [], tcpCpu: [], udpFps: [], udpCpu: [] };
  /** Run `fn`, returning what it returned and the forwarders' CPU use in % of one core. */
  const withCpu = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const cpu0 = await cpuOf(pids);
    const t0 = performance.now();
    const r = await fn();
    const secs = (performance.now() - t0) / 1000;
    return [r, ((await cpuOf(pids)) - cpu0) / secs * 100];
  };
  for (let i = 0; i < runs; i++) {
    // deno-lint-ignore no-explicit-any
    const [tcp, tcpCpu] = await withCpu<any>(() => iperf(a, b, []));
    out.tcpGbit.push(tcp.end.sum_received.bits_per_second / 1e9);
    out.tcpCpu.push(tcpCpu);
    const rx0 = await rxPackets(b);
    // deno-lint-ignore no-explicit-any
    const [udp, udpCpu] = await withCpu<any>(() => iperf(a, b, ["-u", "-b", "0", "-l", "18"]));
    // Frames forwarded, counted by b's kernel on wt1 (not by iperf3, whose socket drops some):
    // over the sender's duration; the few ARP/TCP control frames are noise.
    out.udpFps.push(((await rxPackets(b)) - rx0) / udp.end.sum_sent.seconds);
    out.udpCpu.push(udpCpu);
  }
  return out;
}

/** The `tap` benchmark: a markdown table, weft against vde_plug in the same run. */
export async function tapBench(runs: number): Promise<string> {
  const rows: string[][] = [];
  const pairs: [Variant, Variant][] = [
    ["weft cable", "vde_plug"],
    ["weft switch", "vde_switch + vde_plug"],
  ];
  for (const [w, p] of pairs) {
    const fw = await measure(w, runs);
    const fp = await measure(p, runs);
    const m = (x: number[]) => median(x);
    /** Per run: the figure per CPU-second the forwarders spent on it. */
    const perCpu = (x: number[], cpu: number[]) => x.map((v, i) => v / (cpu[i] / 100));
    const cell = (x: number[], y: number[], show: (v: number) => string) =>
      `${show(m(x))} / ${show(m(y))} (${(m(x) / m(y)).toFixed(2)}×)`;
    const gbit = (v: number) => v.toFixed(2);
    const rate = (v: number) => fmt(v);
    rows.push([
      `\`${w}\` / \`${p}\``,
      cell(fw.tcpGbit, fp.tcpGbit, gbit),
      cell(perCpu(fw.tcpGbit, fw.tcpCpu), perCpu(fp.tcpGbit, fp.tcpCpu), gbit),
      cell(fw.udpFps, fp.udpFps, rate),
      cell(perCpu(fw.udpFps, fw.udpCpu), perCpu(fp.udpFps, fp.udpCpu), rate),
    ]);
  }
  return `### Kernel ⇄ kernel through two taps: \`tap://\` against \`vde_plug tap://\` ` +
    `(median of ${runs}, ${SECONDS} s each)\n\n` +
    table([
      "path (weft / peer)",
      "TCP 1 stream, Gbit/s",
      "Gbit per forwarder CPU-s",
      "60-byte frames/s forwarded",
      "frames per forwarder CPU-s",
    ], rows);
}

if (import.meta.main) console.log(await tapBench(Number(Deno.env.get("BENCH_RUNS") ?? 3)));
