import { assert, assertEquals } from "@std/assert";
import { peerTest } from "../tests/_harness/lab.ts";
import { curlRequests } from "./api_load.ts";
import { Blaster, ensureVdeBlast } from "./vde_blast.ts";

const hasVdeplugHeader = () => {
  try {
    Deno.statSync("/usr/include/libvdeplug.h");
    return undefined;
  } catch {
    return "missing /usr/include/libvdeplug.h (libvdeplug-dev)";
  }
};

peerTest(
  "vde_blast keeps at most its window in flight through a weft switch, and the switch drops nothing",
  { root: false, tools: ["cc"], probe: hasVdeplugHeader },
  async (lab) => {
    const bin = await ensureVdeBlast();
    if ("skip" in bin) throw new Error(bin.skip);
    const sw = await lab.weftSwitch();
    const window = 128;
    const blaster = await Blaster.start(bin.path, sw.dir, window);
    lab.defer(() => blaster.stop());
    const first = await blaster.counts();
    const samples = [first];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      samples.push(await blaster.counts());
    }
    const last = samples.at(-1)!;
    // Frames flowed, every sample is consistent, and the window bound held at every sample.
    assert(last.received - first.received > 1000, `only ${last.received - first.received} frames`);
    for (const c of samples) {
      assert(c.sent >= c.received, `sent ${c.sent} < received ${c.received}`);
      assert(c.sent - c.received <= window, `${c.sent - c.received} frames in flight`);
      assertEquals(c.lost, 0);
    }
    assert(last.ns > first.ns);
    // The switch saw the sink and the sender and dropped nothing on either port.
    const ports = (await sw.counters()).ports.filter((p) =>
      String(p.endpoint).startsWith("vde_blast")
    );
    assertEquals(ports.map((p) => String(p.endpoint).split(" ")[1]).sort(), ["send", "sink"]);
    for (const p of ports) assertEquals(p.endpointDrops, {}, `port ${p.port} dropped`);
  },
  { timeoutMs: 120_000 },
);

peerTest(
  "curlRequests alternates the two paths at the asked rate, with the token, and counts failures",
  { root: false, tools: ["curl"] },
  async (lab) => {
    const seen: string[] = [];
    const ac = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
      (req) => {
        const path = new URL(req.url).pathname;
        seen.push(path);
        if (req.headers.get("authorization") !== "Bearer t0k") {
          return new Response("no", { status: 401 });
        }
        return new Response("ok", { status: path === "/metrics" ? 503 : 200 });
      },
    );
    lab.defer(async () => {
      ac.abort();
      await server.finished;
    });
    const url = `http://127.0.0.1:${server.addr.port}`;
    const t0 = performance.now();
    const r = await curlRequests(lab.path("curl.conf"), url, "t0k", 20, 500, false);
    const ms = performance.now() - t0;
    assertEquals(seen, [
      "/api/v1/switches",
      "/metrics",
      "/api/v1/switches",
      "/metrics",
      "/api/v1/switches",
      "/metrics",
      "/api/v1/switches",
      "/metrics",
      "/api/v1/switches",
      "/metrics",
    ]);
    assertEquals(r.latencies.length, 5);
    assertEquals(r.errors, 5);
    for (const l of r.latencies) assert(l > 0 && l < 5_000, `latency ${l} ms`);
    // --rate 20/s: 10 requests take at least 9 intervals of 50 ms.
    assert(ms >= 400, `10 requests in ${ms.toFixed(0)} ms`);
  },
);
