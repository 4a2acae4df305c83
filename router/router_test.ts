/**
 * The forwarding rules in simulated time: host A (10.1.0.2, fd01::2) — router (lan1 10.1.0.1 /
 * fd01::1, lan2 10.2.0.1 / fd02::1 with a smaller MTU) — host B (10.2.0.2, fd02::2), each link a
 * SimLink. Packets are injected on A's link end as if A had sent them, and what comes out is read
 * from the links' taps.
 */

import { assert, assertEquals } from "@std/assert";
import { ManualClock } from "../core/clock.ts";
import { SeededRng } from "../core/rng.ts";
import { type Cidr, parse_addr, parse_cidr } from "../stack/addr.ts";
import { Stack } from "../stack/stack.ts";
import {
  emit_ethernet,
  emit_ipv4,
  emit_ipv6,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  icmpv6_fill_checksum,
  internet_checksum,
  IP_PROTO_ICMPV6,
  NDP_OPT_SOURCE_LLADDR,
  pseudo_sum_ipv6_addrs,
  write_ndp_lladdr_option,
  write_ndp_rs,
} from "../stack/wire/mod.ts";
import { runSim, SimLink } from "../tests/_harness/sim_link.ts";
import { Router } from "./router.ts";

const A_MAC = 0x02000000000a, B_MAC = 0x02000000000b, R1 = 0x020000000101, R2 = 0x020000000102;

function cidr(t: string): Cidr {
  return parse_cidr(t)!;
}

function v4n(t: string): number {
  const a = parse_addr(t)!;
  return ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
}

interface Seen {
  to: "a" | "b";
  frame: Uint8Array;
}

function lab(opts: { lan2Mtu?: number; raOnLan1?: boolean; aAuto?: boolean } = {}) {
  const clock = new ManualClock(1000);
  const l1 = new SimLink(clock, new SeededRng(1), { delayMs: 1 });
  const l2 = new SimLink(clock, new SeededRng(2), { delayMs: 1 });
  const seen1: Seen[] = [], seen2: Seen[] = [];
  l1.tap = (to, f) => seen1.push({ to, frame: f.slice() });
  l2.tap = (to, f) => seen2.push({ to, frame: f.slice() });
  const common = { clock, timers: "manual" as const };
  const a = new Stack({
    ...common,
    endpoint: l1.a,
    mac: A_MAC,
    ipv4: cidr("10.1.0.2/24"),
    ipv6: opts.aAuto ? ["auto"] : [cidr("fd01::2/64")],
    gateways: opts.aAuto ? [parse_addr("10.1.0.1")!] : [
      parse_addr("10.1.0.1")!,
      parse_addr("fd01::1")!,
    ],
    rng: new SeededRng(3),
  });
  const b = new Stack({
    ...common,
    endpoint: l2.b,
    mac: B_MAC,
    ipv4: cidr("10.2.0.2/24"),
    ipv6: [cidr("fd02::2/64")],
    gateways: [parse_addr("10.2.0.1")!, parse_addr("fd02::1")!],
    rng: new SeededRng(4),
    mtu: opts.lan2Mtu,
  });
  const router = new Router({
    clock,
    rng: new SeededRng(5),
    timers: "manual",
    interfaces: [
      {
        name: "lan1",
        endpoint: l1.b,
        mac: R1,
        ipv4: cidr("10.1.0.1/24"),
        ipv6: cidr("fd01::1/64"),
        ra: opts.raOnLan1 ? { interval: 600 } : undefined,
      },
      {
        name: "lan2",
        endpoint: l2.a,
        mac: R2,
        ipv4: cidr("10.2.0.1/24"),
        ipv6: cidr("fd02::1/64"),
        mtu: opts.lan2Mtu,
      },
    ],
    routes: [{ dest: cidr("10.9.0.0/16"), via: parse_addr("10.2.0.2")! }],
  });
  const run = (ms: number, done: () => boolean = () => false) =>
    runSim(clock, [l1, l2], [a, b, router], done, ms);
  // DAD of the static IPv6 addresses (RFC 4862 §5.4) and ARP/NDP warm-up.
  run(2500);
  seen1.length = 0;
  seen2.length = 0;
  return { clock, l1, l2, a, b, router, seen1, seen2, run };
}

/** An IPv4/UDP-ish frame from A to the router's MAC. */
function frame4(dst: string, o: { ttl?: number; df?: boolean; size?: number } = {}): Uint8Array {
  const size = o.size ?? 100;
  const f = new Uint8Array(14 + size);
  emit_ethernet(f, 0, R1, A_MAC, ETHERTYPE_IPV4);
  for (let i = 34; i < f.length; i++) f[i] = i & 255;
  emit_ipv4(f, 14, {
    identification: 0x1234,
    dont_fragment: o.df ?? true,
    ttl: o.ttl ?? 64,
    protocol: 17,
    src_addr: v4n("10.1.0.2"),
    dst_addr: v4n(dst),
  }, size - 20);
  return f;
}

function frame6(dst: string, o: { hop?: number; size?: number; src?: string } = {}): Uint8Array {
  const size = o.size ?? 100;
  const f = new Uint8Array(14 + size);
  emit_ethernet(f, 0, R1, A_MAC, ETHERTYPE_IPV6);
  for (let i = 54; i < f.length; i++) f[i] = i & 255;
  emit_ipv6(
    f,
    14,
    0,
    0,
    size - 40,
    17,
    o.hop ?? 64,
    parse_addr(o.src ?? "fd01::2")!,
    parse_addr(dst)!,
  );
  return f;
}

function ipv4Of(s: Seen[], to: "a" | "b", proto?: number): Uint8Array[] {
  return s.filter((x) =>
    x.to === to && x.frame[12] === 8 && x.frame[13] === 0 &&
    (proto === undefined || x.frame[23] === proto)
  ).map((x) => x.frame);
}

function ipv6Of(s: Seen[], to: "a" | "b", nh?: number): Uint8Array[] {
  return s.filter((x) =>
    x.to === to && x.frame[12] === 0x86 && x.frame[13] === 0xdd &&
    (nh === undefined || x.frame[20] === nh)
  ).map((x) => x.frame);
}

Deno.test("router: IPv4 forward lowers the TTL, fixes the checksum, keeps the payload", () => {
  const t = lab();
  const f = frame4("10.2.0.2");
  const before = f.slice();
  t.l1.a.send(f);
  t.run(50);
  const out = ipv4Of(t.seen2, "b", 17);
  assertEquals(out.length, 1);
  const p = out[0];
  assertEquals(p[14 + 8], 63);
  assertEquals(internet_checksum(p, 14, 20), 0);
  assertEquals(p.subarray(34), before.subarray(34));
  assertEquals(t.router.stats.forwarded4, 1);
  // The received frame was lent: unchanged after forwarding.
  assertEquals(f, before);
});

Deno.test("router: IPv4 TTL 1 → Time Exceeded from the ingress address, not forwarded", () => {
  const t = lab();
  t.l1.a.send(frame4("10.2.0.2", { ttl: 1 }));
  t.run(50);
  assertEquals(ipv4Of(t.seen2, "b", 17).length, 0);
  const icmp = ipv4Of(t.seen1, "a", 1);
  assertEquals(icmp.length, 1);
  assertEquals(icmp[0][34], 11); // Time Exceeded
  assertEquals(icmp[0].subarray(26, 30), parse_addr("10.1.0.1"));
  assertEquals(t.router.stats.drops.ttl_exceeded, 1);
});

Deno.test("router: no route → Destination Net Unreachable (v4) / no route (v6)", () => {
  const t = lab();
  t.l1.a.send(frame4("10.99.0.5"));
  t.l1.a.send(frame6("fd99::5"));
  t.run(50);
  const i4 = ipv4Of(t.seen1, "a", 1);
  assertEquals(i4.length, 1);
  assertEquals([i4[0][34], i4[0][35]], [3, 0]);
  const i6 = ipv6Of(t.seen1, "a", 58).filter((f) => f[54] < 128); // not the NS for A
  assertEquals(i6.length, 1);
  assertEquals([i6[0][54], i6[0][55]], [1, 0]);
  assertEquals(t.router.stats.drops.no_route, 2);
});

Deno.test("router: DF and too big → frag-needed with the egress MTU; without DF it fragments", () => {
  const t = lab({ lan2Mtu: 1000 });
  t.l1.a.send(frame4("10.2.0.2", { size: 1400, df: true }));
  t.run(50);
  const i4 = ipv4Of(t.seen1, "a", 1);
  assertEquals(i4.length, 1);
  assertEquals([i4[0][34], i4[0][35]], [3, 4]);
  assertEquals((i4[0][40] << 8) | i4[0][41], 1000); // next-hop MTU (RFC 1191 §4)
  t.l1.a.send(frame4("10.2.0.2", { size: 1400, df: false }));
  t.run(50);
  const frags = ipv4Of(t.seen2, "b", 17);
  assertEquals(frags.length, 2);
  let total = 0;
  for (const p of frags) {
    assert(p.length - 14 <= 1000);
    assertEquals(internet_checksum(p, 14, 20), 0);
    assertEquals(p[22], 63);
    total += p.length - 34;
  }
  assertEquals(total, 1380);
  assertEquals(frags[0][20] & 0x20, 0x20); // MF on the first
  assertEquals(((frags[1][20] & 0x1f) << 8 | frags[1][21]) * 8, frags[0].length - 34);
});

Deno.test("router: IPv6 forward, hop limit 1 → Time Exceeded, too big → Packet Too Big", () => {
  const t = lab({ lan2Mtu: 1280 });
  t.l1.a.send(frame6("fd02::2"));
  t.run(50);
  const fw = ipv6Of(t.seen2, "b", 17);
  assertEquals(fw.length, 1);
  assertEquals(fw[0][21], 63);
  t.l1.a.send(frame6("fd02::2", { hop: 1 }));
  t.l1.a.send(frame6("fd02::2", { size: 1400 }));
  t.run(50);
  const errs = ipv6Of(t.seen1, "a", 58).filter((f) => f[54] < 128);
  assertEquals(errs.map((f) => f[54]).sort(), [2, 3]);
  const ptb = errs.find((f) => f[54] === 2)!;
  assertEquals((ptb[58] << 24 | ptb[59] << 16 | ptb[60] << 8 | ptb[61]) >>> 0, 1280);
  assertEquals(ptb.subarray(22, 38), parse_addr("fd01::1"));
  assertEquals(t.router.stats.forwarded6, 1);
});

Deno.test("router: never forwards link-local, directed broadcast, martians", () => {
  const t = lab();
  t.l1.a.send(frame6("fe80::2"));
  t.l1.a.send(frame6("fd02::2", { src: "fe80::a" }));
  t.l1.a.send(frame4("10.2.0.255"));
  t.l1.a.send(frame4("169.254.1.1"));
  t.l1.a.send(frame4("127.0.0.1"));
  t.run(50);
  assertEquals(ipv4Of(t.seen2, "b").length + ipv6Of(t.seen2, "b", 17).length, 0);
  const d = t.router.stats.drops;
  assertEquals(d.link_local, 3);
  assertEquals(d.directed_broadcast, 1);
  assertEquals(d.martian_dst, 1);
  assertEquals(t.router.stats.forwarded4 + t.router.stats.forwarded6, 0);
});

Deno.test("router: a static route sends to its gateway's MAC; pings cross both ways", async () => {
  const t = lab();
  t.l1.a.send(frame4("10.9.3.4"));
  t.run(50);
  const out = ipv4Of(t.seen2, "b", 17);
  assertEquals(out.length, 1);
  const dmac = out[0][0] * 2 ** 40 + ((out[0][1] << 24 | out[0][2] << 16 | out[0][3] << 8 |
        out[0][4]) >>> 0) * 256 +
    out[0][5];
  assertEquals(dmac, B_MAC);
  for (const target of ["10.2.0.2", "fd02::2", "10.2.0.1", "fd02::1"]) {
    let done = false;
    const p = t.a.ping(target, 1, { timeoutMs: 5000 }).finally(() => done = true);
    t.run(2000, () => done);
    const r = await p;
    assertEquals(r.bytes, 56);
  }
  assertEquals(t.router.stats.localEcho, 2);
});

Deno.test("router: RA on lan1 gives host A a SLAAC address and default route; v6 ping crosses", async () => {
  const t = lab({ raOnLan1: true, aAuto: true });
  t.run(
    10_000,
    () => t.a.iface.addresses().some((x) => x.origin === "slaac" && x.state === "preferred"),
  );
  const slaac = t.a.iface.addresses().find((x) => x.origin === "slaac");
  assert(slaac, "no SLAAC address");
  assertEquals(slaac.addr.subarray(0, 8), parse_addr("fd01::")!.subarray(0, 8));
  const ra = t.router.ports[0].ra!;
  assert(ra.stats.sent >= 1);
  // A Router Solicitation is answered within MAX_RA_DELAY_TIME, but not sooner than
  // MIN_DELAY_BETWEEN_RAS after the previous RA (RFC 4861 §6.2.6): well before the next
  // unsolicited one (≥ 16 s away with MaxRtrAdvInterval 600 s).
  const sent = ra.stats.sent;
  const rs = new Uint8Array(14 + 40 + 16);
  const src = t.a.iface.addresses().find((x) => x.origin === "link-local")!.addr;
  const allRouters = parse_addr("ff02::2")!;
  const n = write_ndp_rs(rs, 54) + write_ndp_lladdr_option(rs, 62, NDP_OPT_SOURCE_LLADDR, A_MAC);
  icmpv6_fill_checksum(rs, 54, n, pseudo_sum_ipv6_addrs(src, allRouters, IP_PROTO_ICMPV6));
  emit_ipv6(rs, 14, 0, 0, n, IP_PROTO_ICMPV6, 255, src, allRouters);
  emit_ethernet(rs, 0, 0x333300000002, A_MAC, ETHERTYPE_IPV6);
  t.l1.a.send(rs);
  t.run(3600);
  assertEquals(ra.stats.solicitations, 1);
  assertEquals(ra.stats.sent, sent + 1);
  rs[60] ^= 1; // bad checksum: ignored, counted
  t.l1.a.send(rs);
  t.run(10);
  assertEquals(ra.stats.drops.rs_bad_checksum, 1);
  let done = false;
  const p = t.a.ping("fd02::2", 1, { timeoutMs: 5000 }).finally(() => done = true);
  t.run(2000, () => done);
  assertEquals((await p).bytes, 56);
});
