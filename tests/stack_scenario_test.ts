/**
 * Two weft stacks on a simulated lossy link in simulated time (tests/_harness/sim_link.ts): a
 * 2 MiB TCP transfer with 3 % loss, delay and reordering completes byte-exact, and the whole run is
 * deterministic — the same seed gives the same timeline and counters, another seed another one.
 */

import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { ManualClock } from "../core/clock.ts";
import { SeededRng } from "../core/rng.ts";
import { type Cidr, parse_addr, parse_cidr } from "../stack/addr.ts";
import { Stack } from "../stack/stack.ts";
import { runSim, SimLink } from "./_harness/sim_link.ts";

interface Outcome {
  simMs: number;
  intact: boolean;
  received: number;
  link: unknown;
  tcp: string;
}

function cidr(text: string): Cidr {
  return parse_cidr(text)!;
}

export function transferScenario(seed: number, family: 4 | 6, bytes = 2 * 1048576): Outcome {
  const clock = new ManualClock(1000);
  const link = new SimLink(clock, new SeededRng(seed), { loss: 0.03, delayMs: 5, jitterMs: 3 });
  const common = { clock, timers: "manual" as const, mtu: 1500 };
  const a = new Stack({
    ...common,
    endpoint: link.a,
    mac: 0x02000000000a,
    ipv4: cidr("10.9.0.1/24"),
    ipv6: [cidr("fd09::1/64")],
    rng: new SeededRng(seed + 1),
  });
  const b = new Stack({
    ...common,
    endpoint: link.b,
    mac: 0x02000000000b,
    ipv4: cidr("10.9.0.2/24"),
    ipv6: [cidr("fd09::2/64")],
    rng: new SeededRng(seed + 2),
  });
  // Let duplicate address detection of the static IPv6 addresses finish (RFC 4862 §5.4).
  runSim(clock, [link], [a, b], () => false, 3000);

  const data = new SeededRng(seed + 3).fill(new Uint8Array(bytes));
  const got = new Uint8Array(bytes);
  let received = 0, eof = false;
  const listener = b.tcpListen(80);
  listener.onAccept = (conn) => {
    conn.onEvent = (ev) => {
      if (ev !== "readable") return;
      for (;;) {
        const n = conn.recv(got.subarray(Math.min(received, bytes)));
        if (n === -1) {
          eof = true;
          conn.close();
        }
        if (n <= 0) break;
        received += n;
        if (received >= bytes) {
          // Only possible if the sender sent too much: read into a scratch buffer to see it.
          const extra = new Uint8Array(65536);
          const m = conn.recv(extra);
          if (m > 0) received += m;
        }
      }
    };
  };
  const c = a.tcpConnect(parse_addr(family === 4 ? "10.9.0.2" : "fd09::2")!, 80);
  let sent = 0;
  const pump = () => {
    while (sent < bytes) {
      const n = c.send(data.subarray(sent));
      if (n === 0) return;
      sent += n;
    }
    c.shutdownWrite();
  };
  c.onEvent = (ev) => {
    if (ev === "established" || ev === "writable") pump();
  };
  const simMs = runSim(clock, [link], [a, b], () => eof, 600_000);
  let intact = received === bytes;
  for (let i = 0; intact && i < bytes; i++) intact = got[i] === data[i];
  return {
    simMs,
    intact,
    received,
    link: { ...link.stats },
    tcp: JSON.stringify([a.tcp.stats, b.tcp.stats]),
  };
}

Deno.test("scenario: 2 MiB over IPv4 with 3 % loss, delay and reordering arrives byte-exact", () => {
  const o = transferScenario(7, 4);
  assertEquals(o.received, 2 * 1048576);
  assert(o.intact, "the bytes differ");
  assert(
    (o.link as { lost: number }).lost > 0,
    "the link lost nothing: the test would prove little",
  );
});

Deno.test("scenario: the same over IPv6", () => {
  const o = transferScenario(8, 6, 1048576);
  assertEquals(o.received, 1048576);
  assert(o.intact, "the bytes differ");
});

Deno.test("scenario: same seed, same run; another seed, another run", () => {
  const x = transferScenario(42, 4, 512 * 1024);
  const y = transferScenario(42, 4, 512 * 1024);
  assertEquals(x, y);
  const z = transferScenario(43, 4, 512 * 1024);
  assert(z.intact);
  assertNotEquals(
    JSON.stringify([z.simMs, z.link, z.tcp]),
    JSON.stringify([x.simMs, x.link, x.tcp]),
  );
});

Deno.test("scenario: a stack moved mid-transfer (snapshot → structuredClone → restore) finishes byte-exact", () => {
  const clock = new ManualClock(1000);
  const link = new SimLink(clock, new SeededRng(11), { loss: 0.01, delayMs: 2, jitterMs: 1 });
  const common = { clock, timers: "manual" as const, mtu: 1500 };
  let a = new Stack({
    ...common,
    endpoint: link.a,
    mac: 0x02000000000a,
    ipv4: cidr("10.9.0.1/24"),
    rng: new SeededRng(12),
  });
  const b = new Stack({
    ...common,
    endpoint: link.b,
    mac: 0x02000000000b,
    ipv4: cidr("10.9.0.2/24"),
    rng: new SeededRng(13),
  });
  const bytes = 1048576;
  const data = new SeededRng(14).fill(new Uint8Array(bytes));
  const got = new Uint8Array(bytes);
  let received = 0, eof = false;
  b.tcpListen(80).onAccept = (conn) => {
    conn.onEvent = (ev) => {
      if (ev !== "readable") return;
      for (;;) {
        const n = conn.recv(got.subarray(Math.min(received, bytes)));
        if (n === -1) eof = true;
        if (n <= 0) break;
        received += n;
      }
    };
  };
  let sent = 0;
  const attach = (c: ReturnType<Stack["tcpConnect"]>) => {
    const pump = () => {
      while (sent < bytes) {
        const n = c.send(data.subarray(sent));
        if (n === 0) return;
        sent += n;
      }
      c.shutdownWrite();
    };
    c.onEvent = (ev) => {
      if (ev === "established" || ev === "writable") pump();
    };
    return pump;
  };
  attach(a.tcpConnect(parse_addr("10.9.0.2")!, 80));
  runSim(clock, [link], [a, b], () => received > bytes / 3, 60_000);
  // Move: the snapshot travels as plain data; a new stack takes over the same link end.
  const snap = structuredClone(a.snapshot());
  const moved = Stack.restore({ ...common, endpoint: link.a, rng: new SeededRng(15) }, snap);
  a = moved.stack;
  assertEquals(moved.connections.length, 1);
  // All 1 MiB fits the send buffer, so the sender may already have queued its FIN.
  assert(["ESTABLISHED", "FIN-WAIT-1"].includes(moved.connections[0].state));
  assert(received < bytes, "the move happened mid-transfer");
  attach(moved.connections[0])();
  runSim(clock, [link], [a, b], () => eof, 600_000);
  assertEquals(received, bytes);
  assert(got.every((v, i) => v === data[i]), "the bytes differ after the move");
});
