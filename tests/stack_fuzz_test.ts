/**
 * 1,000,000 hostile frames at a weft stack: random bytes, and mutations of the frames a real
 * exchange produced (ARP, ICMP/ICMPv6 echo, NDP, TCP handshake/data/FIN, UDP) — a quarter of the
 * mutations get their checksums fixed so they reach the deep parts (TCP state, options, NDP).
 * Nothing may throw, the drops must be counted, and the stack must still serve TCP afterwards.
 */

import { assert, assertEquals, assertGreater } from "@std/assert";
import { ManualClock } from "../core/clock.ts";
import { SeededRng } from "../core/rng.ts";
import { type Cidr, parse_addr, parse_cidr } from "../stack/addr.ts";
import { Stack } from "../stack/stack.ts";
import {
  checksum_finish,
  ipv4_at,
  ipv4_fill_checksum,
  pseudo_sum_ipv4,
  pseudo_sum_ipv6,
  sum16,
} from "../stack/wire/mod.ts";
import { runSim, SimLink } from "./_harness/sim_link.ts";

const cidr = (t: string): Cidr => parse_cidr(t)!;

/** Recompute IPv4 header and TCP/UDP/ICMP/ICMPv6 checksums of an untagged frame, if it parses. */
function fixChecksums(f: Uint8Array): void {
  const type = (f[12] << 8) | f[13];
  let proto: number, off: number, len: number, pseudo: number;
  if (type === 0x0800 && f.length >= 34) {
    const ihl = (f[14] & 15) * 4;
    const total = (f[16] << 8) | f[17];
    if (ihl < 20 || 14 + total > f.length || total < ihl) return;
    ipv4_fill_checksum(f, 14);
    proto = f[23];
    off = 14 + ihl;
    len = total - ihl;
    pseudo = proto === 1 ? 0 : pseudo_sum_ipv4(ipv4_at(f, 26), ipv4_at(f, 30), proto) + len;
  } else if (type === 0x86dd && f.length >= 54) {
    proto = f[20];
    off = 54;
    len = (f[18] << 8) | f[19];
    if (off + len > f.length) return;
    pseudo = pseudo_sum_ipv6(f, 22, proto) + len;
  } else return;
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 || proto === 58 ? 2 : -1;
  if (at < 0 || len < at + 2) return;
  f[off + at] = 0;
  f[off + at + 1] = 0;
  const c = checksum_finish(sum16(f, off, len, pseudo));
  f[off + at] = c >>> 8;
  f[off + at + 1] = c;
}

function sumDrops(...records: Array<Record<string, number> | undefined>): number {
  let n = 0;
  for (const r of records) for (const k in r ?? {}) n += r![k];
  return n;
}

/** Echo server on port 80 of `s`, using the engine API directly (synchronous, simulated time). */
function echoServer(s: Stack): void {
  const buf = new Uint8Array(65536);
  s.tcpListen(80).onAccept = (conn) => {
    conn.onEvent = (ev) => {
      if (ev !== "readable") return;
      for (;;) {
        const n = conn.recv(buf);
        if (n === -1) conn.close();
        if (n <= 0) break;
        conn.send(buf.subarray(0, n));
      }
    };
  };
}

/** Connect from `client` to `server`:80, send `bytes`, read them back; true when all came back. */
function echoExchange(
  clock: ManualClock,
  link: SimLink,
  client: Stack,
  server: Stack,
  dst: string,
  bytes: number,
): boolean {
  const data = new SeededRng(bytes).fill(new Uint8Array(bytes));
  const back = new Uint8Array(bytes);
  let got = 0, sent = 0;
  const c = client.tcpConnect(parse_addr(dst)!, 80);
  const pump = () => {
    while (sent < bytes) {
      const n = c.send(data.subarray(sent));
      if (!n) return;
      sent += n;
    }
  };
  c.onEvent = (ev) => {
    if (ev === "established" || ev === "writable") pump();
    if (ev === "readable") {
      for (;;) {
        const n = c.recv(back.subarray(got));
        if (n <= 0) break;
        got += n;
      }
      if (got === bytes) c.close();
    }
  };
  runSim(clock, [link], [client, server], () => got === bytes, 60_000);
  return got === bytes && back.every((v, i) => v === data[i]);
}

Deno.test("fuzz: 1,000,000 random and mutated frames — no throw, drops counted, still serving", () => {
  const clock = new ManualClock(1000);
  const link = new SimLink(clock, new SeededRng(1), { delayMs: 0.2 });
  const victim = new Stack({
    endpoint: link.a,
    mac: 0x02000000000a,
    ipv4: cidr("10.9.0.1/24"),
    ipv6: [cidr("fd09::1/64")],
    clock,
    rng: new SeededRng(2),
    timers: "manual",
  });
  const peer = new Stack({
    endpoint: link.b,
    mac: 0x02000000000b,
    ipv4: cidr("10.9.0.2/24"),
    ipv6: [cidr("fd09::2/64")],
    clock,
    rng: new SeededRng(3),
    timers: "manual",
  });
  echoServer(victim);
  const udp = victim.udpBind(53);
  udp.onDatagram = () => {};
  runSim(clock, [link], [victim, peer], () => false, 3000); // DAD

  // Seeds: every frame the peer sends to the victim during ordinary traffic.
  const seeds: Uint8Array[] = [];
  link.tap = (to, f) => {
    if (to === "a") seeds.push(f.slice());
  };
  assert(echoExchange(clock, link, peer, victim, "10.9.0.1", 20_000), "echo over IPv4 before");
  assert(echoExchange(clock, link, peer, victim, "fd09::1", 20_000), "echo over IPv6 before");
  peer.udpBind(5353).sendTo(new Uint8Array(40), parse_addr("10.9.0.1")!, 53);
  peer.iface.ping(parse_addr("10.9.0.1")!, 7, 1, new Uint8Array(56));
  peer.iface.ping(parse_addr("fd09::1")!, 7, 2, new Uint8Array(56));
  runSim(clock, [link], [victim, peer], () => false, 50);
  link.tap = undefined;
  assertGreater(seeds.length, 20);

  const dropsBefore = sumDrops(victim.iface.stats.drops, victim.tcp.stats.drops);
  const rng = new SeededRng(99);
  const N = 1_000_000;
  for (let i = 0; i < N; i++) {
    let f: Uint8Array;
    const r = rng.float();
    if (r < 0.3) {
      f = rng.fill(new Uint8Array(14 + rng.below(1500)));
      // Half of the random frames are addressed to the victim so they get past the MAC filter.
      if (i & 1) f.set([0x02, 0, 0, 0, 0, 0x0a], 0);
    } else {
      const seed = seeds[rng.below(seeds.length)];
      const cut = rng.float() < 0.1 ? 14 + rng.below(seed.length - 13) : seed.length;
      f = seed.slice(0, cut);
      const flips = 1 + rng.below(4);
      for (let k = 0; k < flips; k++) {
        const at = rng.float() < 0.8
          ? 14 + rng.below(Math.min(66, f.length - 14))
          : rng.below(f.length);
        f[at] = rng.u32() & 255;
      }
      if (rng.float() < 0.25) fixChecksums(f);
    }
    victim.iface.receiveFrame(f);
    if ((i & 1023) === 0) {
      clock.advance(1);
      victim.poll();
      link.deliverDue(); // the peer absorbs the victim's answers (RSTs, ICMP errors, challenge ACKs)
      peer.poll();
    }
  }
  const dropsAfter = sumDrops(victim.iface.stats.drops, victim.tcp.stats.drops);
  assertGreater(dropsAfter - dropsBefore, N / 2, "drops were not counted");
  // The NIC catches exceptions from protocol code and counts them: a caught throw is still a bug.
  assertEquals(victim.iface.stats.drops.internal_error ?? 0, 0, "protocol code threw");
  assertEquals(peer.iface.stats.drops.internal_error ?? 0, 0, "the peer's protocol code threw");
  runSim(clock, [link], [victim, peer], () => false, 120_000); // let half-open state time out
  assert(
    echoExchange(clock, link, peer, victim, "10.9.0.1", 100_000),
    "echo over IPv4 after the fuzz",
  );
  assertEquals(victim.iface.stats.framesIn >= N, true);
  console.log(
    "victim drops:",
    JSON.stringify(victim.iface.stats.drops),
    JSON.stringify(victim.tcp.stats.drops),
  );
});
