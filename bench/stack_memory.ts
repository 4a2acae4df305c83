/**
 * Memory per idle TCP connection in weft's stack (the goal: ≤ 8 KiB beyond buffers).
 * Two stacks on a simulated link (simulated time, so the run is fast and repeatable) open N
 * connections from one to the other and leave them idle; the V8 heap is measured after a full
 * GC before and after. Both ends hold a connection, so the figure is the heap growth / (2·N).
 * Send and receive buffers grow on first use (stack/tcp/ring.ts): an idle connection holds none,
 * so this is the whole per-connection cost. Needs --v8-flags=--expose-gc (deno task bench).
 */

import { ManualClock } from "../core/clock.ts";
import { SeededRng } from "../core/rng.ts";
import { parse_addr, parse_cidr } from "../stack/addr.ts";
import { Stack } from "../stack/stack.ts";
import type { TcpSocketCore } from "../stack/socket_core.ts";
import { runSim, SimLink } from "../tests/_harness/sim_link.ts";

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc to measure the heap");
  for (let i = 0; i < 3; i++) gc();
  return Deno.memoryUsage().heapUsed;
}

export function idleConnectionBytes(n: number): { perConnection: number; established: number } {
  const clock = new ManualClock(1000);
  const link = new SimLink(clock, new SeededRng(1), { delayMs: 0.1, mtu: 1514 });
  const common = { clock, timers: "manual" as const, mtu: 1500 };
  const a = new Stack({
    ...common,
    endpoint: link.a,
    mac: 0x02000000000a,
    ipv4: parse_cidr("10.9.0.1/16")!,
    rng: new SeededRng(2),
  });
  const b = new Stack({
    ...common,
    endpoint: link.b,
    mac: 0x02000000000b,
    ipv4: parse_cidr("10.9.0.2/16")!,
    rng: new SeededRng(3),
  });
  const accepted: TcpSocketCore[] = [];
  a.tcpListen(80, undefined, n).onAccept = (c) => accepted.push(c);
  const dst = parse_addr("10.9.0.1")!;
  // Warm up (ARP, code paths), then measure.
  const warm = b.tcpConnect(dst, 80);
  runSim(clock, [link], [a, b], () => accepted.length === 1, 10_000);
  const before = heap();
  const clients: TcpSocketCore[] = [warm];
  for (let i = 0; i < n; i++) {
    clients.push(b.tcpConnect(dst, 80));
    if (i % 200 === 199) runSim(clock, [link], [a, b], () => accepted.length === i + 2, 10_000);
  }
  runSim(clock, [link], [a, b], () => accepted.length === n + 1, 60_000);
  const after = heap();
  const established = accepted.filter((c) => c.state === "ESTABLISHED").length - 1;
  // Keep both ends reachable until after the measurement.
  if (clients.length + accepted.length < 0) console.log(clients, accepted);
  return { perConnection: (after - before) / (2 * n), established };
}

export function stackMemoryBench(): string {
  const n = 5000;
  const r = idleConnectionBytes(n);
  return [
    `### Memory per idle TCP connection (V8 heap after GC, ${n} connections, both ends counted)`,
    "",
    "| connections established | bytes per connection end | goal |",
    "| --- | --- | --- |",
    `| ${r.established} of ${n} | ${Math.round(r.perConnection)} (${
      (r.perConnection / 1024).toFixed(2)
    } KiB) | ≤ 8 KiB beyond buffers (buffers: 0 while idle) |`,
  ].join("\n");
}

if (import.meta.main) console.log(stackMemoryBench());
