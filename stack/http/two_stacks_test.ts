/**
 * Small HTTP exchanges between two real Stacks joined by a pair cable, with frozen time: a
 * ManualClock that never moves and `timers: "manual"` (nobody calls poll()), so no delayed-ACK,
 * retransmission or any other timer can ever fire. Each exchange must therefore complete on the
 * frames alone — nothing on its critical path may wait for a timer (the classic delayed-ACK /
 * Nagle stall would hang it) — and the frames are counted: a fresh connection per request costs
 * SYN, SYN-ACK, the request carrying the handshake's ACK, the response, and the close.
 */

import { assertEquals } from "@std/assert";
import { ManualClock } from "../../core/clock.ts";
import { EndpointBase } from "../../core/endpoint_base.ts";
import { SeededRng } from "../../core/rng.ts";
import { parse_cidr } from "../addr.ts";
import { Stack } from "../stack.ts";
import { fetchVia } from "./fetch.ts";
import { serve } from "./serve.ts";

interface Seg {
  from: "client" | "server";
  flags: string;
  len: number;
  srcPort: number;
  dstPort: number;
}

/** TCP flags as letters (F S R P A) and payload length of an IPv4 frame, else undefined. */
function tcpOf(f: Uint8Array): Omit<Seg, "from"> | undefined {
  if (f.length < 54 || f[12] !== 8 || f[13] !== 0 || f[23] !== 6) return undefined;
  const ihl = (f[14] & 15) * 4;
  const t = 14 + ihl;
  const len = ((f[16] << 8) | f[17]) - ihl - (f[t + 12] >> 4) * 4;
  const flags = ["F", "S", "R", "P", "A"].filter((_, i) => f[t + 13] & (1 << i)).join("");
  return { flags, len, srcPort: (f[t] << 8) | f[t + 1], dstPort: (f[t + 2] << 8) | f[t + 3] };
}

/**
 * One end of a cable that hands each frame over in a microtask (a copy), as a cable between
 * processes does in its own time, and records every TCP frame sent into `log`. (A pair cable
 * delivers synchronously; a stack then queues the answers that come back while it transmits for
 * its next poll(), which nobody calls here.)
 */
class TapEnd extends EndpointBase {
  peer!: TapEnd;
  constructor(readonly side: Seg["from"], readonly log: Seg[]) {
    super(`tap:${side}`, 1514);
  }
  send(frame: Uint8Array): boolean {
    const why = this.unfit(frame.length);
    if (why) return this.counters.drop(why);
    this.counters.countOut(frame.length);
    const s = tcpOf(frame);
    if (s) this.log.push({ from: this.side, ...s });
    const copy = frame.slice();
    queueMicrotask(() => this.peer.arrive(copy));
    return true;
  }
  arrive(frame: Uint8Array): void {
    if (!this.isClosed) this.deliver(frame);
  }
  protected closeResources(): void {}
}

/** Rejects if `p` has not settled after `ms` of real time (a stalled exchange). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: stalled (waiting for a timer?)`)), ms);
  });
  return Promise.race([p, stall]).finally(() => clearTimeout(timer));
}

function twoStacks(body: Uint8Array<ArrayBuffer>) {
  const clock = new ManualClock(1000);
  const log: Seg[] = [];
  const a = new TapEnd("server", log), b = new TapEnd("client", log);
  a.peer = b;
  b.peer = a;
  const common = { clock, timers: "manual" as const };
  const server = new Stack({
    ...common,
    endpoint: a,
    ipv4: parse_cidr("10.7.0.2/24")!,
    rng: new SeededRng(1),
  });
  const client = new Stack({
    ...common,
    endpoint: b,
    ipv4: parse_cidr("10.7.0.3/24")!,
    rng: new SeededRng(2),
  });
  const srv = serve(server.listen({ port: 8080 }), () => new Response(body));
  const get = async () => {
    const dial = (hostname: string, port: number) => client.connect({ hostname, port });
    const r = await fetchVia(dial, "http://10.7.0.2:8080/small.bin");
    return new Uint8Array(await r.arrayBuffer());
  };
  const close = async () => {
    await srv.shutdown();
    await client.close();
    await server.close();
  };
  return { clock, log, client, server, get, close };
}

/** Let the microtasks and the closing handshakes settle (frames flow synchronously). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

Deno.test("two stacks: 1 KiB GETs on fresh connections complete with time frozen, 7 frames each", async () => {
  const body = new SeededRng(3).fill(new Uint8Array(1024)) as Uint8Array<ArrayBuffer>;
  const t = twoStacks(body);
  try {
    const N = 20;
    for (let i = 0; i < N; i++) {
      assertEquals(await within(t.get(), 5000, `GET #${i}`), body);
      await settle();
    }
    assertEquals(t.clock.now(), 1000, "no simulated time passed");
    const conns = new Map<number, Seg[]>();
    for (const s of t.log) {
      const port = s.from === "client" ? s.srcPort : s.dstPort;
      if (!conns.has(port)) conns.set(port, []);
      conns.get(port)!.push(s);
    }
    assertEquals(conns.size, N, "one fresh port per request");
    for (const [port, segs] of conns) {
      const seq = segs.map((s) => `${s.from[0]}:${s.flags}${s.len ? `/${s.len}` : ""}`);
      // The handshake's ACK rides on the request (no "c:A" after SYN-ACK), the server sends no
      // window update after the handshake ("s:A"), the request's ACK rides on the response, the
      // ACK of the server's FIN on the client's FIN. It used to take 10 frames:
      // c:S s:SA c:A s:A c:PA s:PA s:FA c:A c:FA s:A.
      assertEquals(
        seq.join(" "),
        "c:S s:SA c:PA/80 s:PA/1121 s:FA c:FA s:A",
        `port ${port}`,
      );
    }
    const c = t.client.tcp.stats, s = t.server.tcp.stats;
    assertEquals(c.retransmits + s.retransmits, 0);
    assertEquals(t.log.length, 7 * N);
  } finally {
    await t.close();
  }
});
