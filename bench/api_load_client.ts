/**
 * The API load of bench/api_load.ts, run in a Worker (its own thread and event loop) so that the
 * clients' timing is not distorted by what the main thread does (client C, the measurements).
 * bench/api_load.ts asks it for the SSE streams only (`clients: 0`) when curl is there to make
 * the requests, and for both otherwise.
 *
 * Messages in: `{ cmd: "start", url, token, sse, rps, clients }` opens `sse` event streams
 * (read and discarded, as a dashboard would) and runs `clients` request loops that together make
 * `rps` requests per second, alternating GET /api/v1/switches and GET /metrics; it answers
 * `{ type: "ready", connectMs }` once every stream got its first message. `{ cmd: "stop" }`
 * closes everything and answers `{ type: "stopped", latencies, errors, events }` (ms).
 */

/// <reference lib="deno.worker" />

interface Start {
  cmd: "start";
  url: string;
  token: string;
  sse: number;
  rps: number;
  clients: number;
}

let running = false;
let aborts: AbortController[] = [];
let latencies: number[] = [];
let errors = 0;
let events = 0;
let loops: Promise<void>[] = [];

async function subscribe(s: Start, ready: () => void): Promise<void> {
  const ctl = new AbortController();
  aborts.push(ctl);
  let first = true;
  try {
    const r = await fetch(`${s.url}/events`, {
      headers: { authorization: `Bearer ${s.token}` },
      signal: ctl.signal,
    });
    if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
    const reader = r.body.getReader();
    // Aborting the request does not always end a read already waiting on the body: cancel it.
    ctl.signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // Count messages roughly (one blank line ends each); the content is not needed.
      for (let i = 1; i < value.length; i++) if (value[i] === 10 && value[i - 1] === 10) events++;
      if (first) first = false, ready();
    }
  } catch {
    if (!ctl.signal.aborted) errors++;
  } finally {
    if (first) ready();
  }
}

async function requester(s: Start, index: number): Promise<void> {
  const period = (1000 * s.clients) / s.rps;
  // Spread the clients over the period so the load is steady, not bursts of `clients`.
  let next = performance.now() + (period * index) / s.clients;
  let n = index;
  while (running) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (!running) break;
    next += period;
    const path = n++ % 2 === 0 ? "/api/v1/switches" : "/metrics";
    const t0 = performance.now();
    try {
      const r = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${s.token}` } });
      await r.arrayBuffer();
      if (r.ok) latencies.push(performance.now() - t0);
      else errors++;
    } catch {
      errors++;
    }
  }
}

self.onmessage = async (ev: MessageEvent<Start | { cmd: "stop" }>) => {
  const m = ev.data;
  if (m.cmd === "start") {
    running = true;
    latencies = [];
    errors = 0;
    events = 0;
    aborts = [];
    const t0 = performance.now();
    let pending = m.sse;
    const allReady = new Promise<void>((resolve) => {
      if (pending === 0) resolve();
      const ready = () => --pending === 0 && resolve();
      loops = Array.from({ length: m.sse }, () => subscribe(m, ready));
    });
    await allReady;
    const connectMs = performance.now() - t0;
    for (let i = 0; i < m.clients; i++) loops.push(requester(m, i));
    self.postMessage({ type: "ready", connectMs });
  } else {
    running = false;
    for (const a of aborts) a.abort();
    // Bounded: a request stuck on the node must not hang the benchmark.
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5_000))]);
    self.postMessage({ type: "stopped", latencies, errors, events });
  }
};
