import { assert, assertEquals, assertGreater } from "@std/assert";
import { ManualClock } from "../../core/clock.ts";
import { SeededRng } from "../../core/rng.ts";
import { addr_equal, format_addr, type IpAddr, parse_addr } from "../addr.ts";
import { type IcmpErrorKind, TX_HEADROOM } from "../ip_io.ts";
import {
  ARP_OP_REQUEST,
  emit_ethernet,
  emit_icmpv4,
  emit_icmpv6,
  emit_ipv4,
  emit_ipv6,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  icmpv6_fill_checksum,
  NDP_NEIGHBOR_SOLICIT,
  NDP_OPT_SOURCE_LLADDR,
  NDP_PREFIX_AUTONOMOUS,
  NDP_PREFIX_ON_LINK,
  NDP_ROUTER_SOLICIT,
  parse_arp,
  parse_ipv4,
  parse_ipv6,
  pseudo_sum_ipv6_addrs,
  write_ndp_lladdr_option,
  write_ndp_mtu_option,
  write_ndp_prefix_option,
  write_ndp_ra,
} from "../wire/mod.ts";
import { frame } from "../wire/_captured.ts";
import { eui64, Iface } from "./iface.ts";
import { cidr, ethertype, MAC_A, MAC_B, TestLink } from "./_link_test_util.ts";

const A4 = parse_addr("10.0.0.1")!, B4 = parse_addr("10.0.0.2")!;
const A6 = parse_addr("fd00::1")!, B6 = parse_addr("fd00::2")!;

/** A transport that records what it gets. */
function recorder() {
  const got: Array<{ src: string; dst: string; data: number[]; bcast: boolean }> = [];
  const errors: Array<{ kind: IcmpErrorKind; src: string; dst: string; quoteLen: number }> = [];
  return {
    got,
    errors,
    input(src: IpAddr, dst: IpAddr, buf: Uint8Array, off: number, len: number, bcast: boolean) {
      got.push({
        src: format_addr(src),
        dst: format_addr(dst),
        data: [...buf.subarray(off, off + len)],
        bcast,
      });
    },
    icmpError(kind: IcmpErrorKind, src: IpAddr, dst: IpAddr, quote: Uint8Array) {
      errors.push({ kind, src: format_addr(src), dst: format_addr(dst), quoteLen: quote.length });
    },
  };
}

function v4pair(): { link: TestLink; a: Iface; b: Iface } {
  const link = new TestLink();
  const a = link.add(MAC_A), b = link.add(MAC_B);
  a.addAddress(cidr("10.0.0.1/24"));
  b.addAddress(cidr("10.0.0.2/24"));
  link.run();
  link.clearSent();
  return { link, a, b };
}

function v6pair(): { link: TestLink; a: Iface; b: Iface } {
  const link = new TestLink();
  const a = link.add(MAC_A), b = link.add(MAC_B);
  a.addAddress(cidr("fd00::1/64"));
  b.addAddress(cidr("fd00::2/64"));
  link.tick(1500); // DAD
  link.clearSent();
  return { link, a, b };
}

/** Write `bytes` as a segment of protocol 253 into `iface.tx` and send it. */
function sendRaw(iface: Iface, src: IpAddr, dst: IpAddr, bytes: number[], proto = 253): boolean {
  iface.tx.set(bytes, TX_HEADROOM);
  return iface.sendIp(src, dst, proto, bytes.length);
}

Deno.test("iface: ARP resolves the next hop and flushes the pending queue in order", () => {
  const { link, a, b } = v4pair();
  const rb = recorder();
  b.registerTransport(253, rb);
  for (let i = 0; i < 3; i++) assert(sendRaw(a, A4, B4, [i, 1, 2, 3]));
  // Nothing left A yet but one ARP request (the packets wait for the MAC).
  assertEquals(link.sent[0].length, 1);
  assertEquals(ethertype(link.sent[0][0]), ETHERTYPE_ARP);
  const req = parse_arp(link.sent[0][0], 14)!;
  assertEquals([req.operation, req.target_protocol_addr, req.sender_protocol_addr], [
    ARP_OP_REQUEST,
    0x0a000002,
    0x0a000001,
  ]);
  link.run();
  assertEquals(rb.got.map((g) => g.data[0]), [0, 1, 2]);
  assertEquals(rb.got[0].src, "10.0.0.1");
  const na = a.neighbours();
  assertEquals(na.length, 1);
  assertEquals([format_addr(na[0].addr), na[0].mac, na[0].state], ["10.0.0.2", MAC_B, "reachable"]);
  // B learnt A from the request addressed to it (RFC 826), as STALE.
  const nb = b.neighbours();
  assertEquals([format_addr(nb[0].addr), nb[0].mac, nb[0].state], ["10.0.0.1", MAC_A, "stale"]);
  // Later packets go straight out.
  link.clearSent();
  sendRaw(a, A4, B4, [9]);
  assertEquals(link.sent[0].length, 1);
  assertEquals(ethertype(link.sent[0][0]), ETHERTYPE_IPV4);
});

Deno.test("iface: ARP retries 3 times 1 s apart, then fails: queue dropped, transport told", () => {
  const { link, a } = v4pair();
  const ra = recorder();
  a.registerTransport(253, ra);
  const dead = parse_addr("10.0.0.9")!;
  for (let i = 0; i < 20; i++) sendRaw(a, A4, dead, [i]);
  assertEquals(a.stats.drops.pending_full, 4); // 16 queued
  link.tick(999);
  assertEquals(link.sent[0].length, 1);
  link.tick(1);
  assertEquals(link.sent[0].length, 2);
  link.tick(1000);
  assertEquals(link.sent[0].length, 3);
  assertEquals(ra.errors.length, 0);
  link.tick(1000);
  assertEquals(link.sent[0].length, 3, "no fourth request");
  assertEquals(a.stats.drops.neigh_failed, 16);
  assertEquals(ra.errors.length, 16);
  assertEquals(ra.errors[0], {
    kind: "host_unreachable",
    src: "10.0.0.1",
    dst: "10.0.0.9",
    quoteLen: 1,
  });
  assertEquals(a.neighbours()[0].state, "failed");
  // New traffic restarts resolution.
  sendRaw(a, A4, dead, [1]);
  assertEquals(link.sent[0].length, 4);
});

Deno.test("iface: stale neighbour is re-probed by unicast ARP (NUD-lite)", () => {
  const { link, a, b } = v4pair();
  b.registerTransport(253, recorder());
  sendRaw(a, A4, B4, [1]);
  link.run();
  link.tick(60_000); // reachable time (≤ 45 s) passes
  assertEquals(a.neighbours()[0].state, "stale");
  link.clearSent();
  sendRaw(a, A4, B4, [2]); // sent at once, NUD starts (DELAY 5 s)
  assertEquals(link.sent[0].length, 1);
  link.tick(5000);
  const probe = link.sent[0].find((f) => ethertype(f) === ETHERTYPE_ARP)!;
  assertEquals((probe[0] << 8) | probe[1], 0x0200, "unicast to B's MAC");
  assertEquals(a.neighbours()[0].state, "reachable");
});

Deno.test("iface: ping v4 both ways", () => {
  const { link, a, b } = v4pair();
  const replies: string[] = [];
  a.onEchoReply = (src, id, seq, p) =>
    replies.push(`a<-${format_addr(src)} ${id}/${seq} ${p.length}`);
  b.onEchoReply = (src, id, seq, p) =>
    replies.push(`b<-${format_addr(src)} ${id}/${seq} ${p.length}`);
  assert(a.ping(B4, 7, 1, new Uint8Array(56)));
  link.run();
  assert(b.ping(A4, 8, 2, new Uint8Array([1, 2, 3])));
  link.run();
  assertEquals(replies, ["a<-10.0.0.2 7/1 56", "b<-10.0.0.1 8/2 3"]);
});

Deno.test("iface: ping v6 both ways (NDP resolution)", () => {
  const { link, a, b } = v6pair();
  const replies: string[] = [];
  a.onEchoReply = (src, id, seq, p) => replies.push(`a<-${format_addr(src)} ${id}/${seq} ${p[0]}`);
  b.onEchoReply = (src, id, seq, p) => replies.push(`b<-${format_addr(src)} ${id}/${seq} ${p[0]}`);
  assert(a.ping(B6, 1, 1, new Uint8Array([42])));
  assertEquals(link.sent[0].length, 1);
  const ns = parse_ipv6(link.sent[0][0], 14)!;
  assertEquals(format_addr(ns.dst_addr), "ff02::1:ff00:2");
  assertEquals(link.sent[0][0][54], NDP_NEIGHBOR_SOLICIT);
  link.run();
  assert(b.ping(A6, 2, 2, new Uint8Array([43])));
  link.run();
  assertEquals(replies, ["a<-fd00::2 1/1 42", "b<-fd00::1 2/2 43"]);
  assertEquals(a.neighbours().find((n) => format_addr(n.addr) === "fd00::2")!.state, "reachable");
});

Deno.test("iface: DAD detects a duplicate IPv6 address", () => {
  const { link, a, b } = v6pair();
  const failed: string[] = [];
  a.onDadFailed = (x) => failed.push(format_addr(x));
  a.addAddress(cidr("fd00::2/64")); // B has it
  assertEquals(a.addresses().find((x) => format_addr(x.addr) === "fd00::2")!.state, "tentative");
  // The DAD probe: NS from ::, to the solicited-node group, no options.
  const ns = link.sent[0].at(-1)!;
  const v = parse_ipv6(ns, 14)!;
  assertEquals([format_addr(v.src_addr), format_addr(v.dst_addr), v.hop_limit], [
    "::",
    "ff02::1:ff00:2",
    255,
  ]);
  assertEquals(v.payload_length, 24);
  link.tick(2000);
  assertEquals(failed, ["fd00::2"]);
  assertEquals(a.stats.drops.dad_failed, 1);
  assertEquals(a.addresses().map((x) => format_addr(x.addr)), ["fd00::1"]);
  // B keeps its address and still answers.
  assert(b.isLocal(B6));
  // A unique address passes DAD.
  a.addAddress(cidr("fd00::3/64"));
  link.tick(1000);
  assertEquals(a.addresses().find((x) => format_addr(x.addr) === "fd00::3")!.state, "preferred");
});

/** A Router Advertisement frame from fe80::1 (MAC 02:..:01) to all-nodes. */
function raFrame(opts: {
  lifetime: number;
  prefix: string;
  valid: number;
  preferred: number;
  mtu?: number;
}): Uint8Array {
  const b = new Uint8Array(200);
  const src = parse_addr("fe80::1")!, dst = parse_addr("ff02::1")!;
  let n = write_ndp_ra(b, 54, 64, 0, opts.lifetime, 0, 0);
  n += write_ndp_lladdr_option(b, 54 + n, NDP_OPT_SOURCE_LLADDR, 0x020000000001);
  if (opts.mtu) n += write_ndp_mtu_option(b, 54 + n, opts.mtu);
  n += write_ndp_prefix_option(
    b,
    54 + n,
    64,
    NDP_PREFIX_ON_LINK | NDP_PREFIX_AUTONOMOUS,
    opts.valid,
    opts.preferred,
    parse_addr(opts.prefix)!,
  );
  icmpv6_fill_checksum(b, 54, n, pseudo_sum_ipv6_addrs(src, dst, 58));
  emit_ipv6(b, 14, 0, 0, n, 58, 255, src, dst);
  emit_ethernet(b, 0, 0x333300000001, 0x020000000001, ETHERTYPE_IPV6);
  return b.slice(0, 54 + n);
}

Deno.test("iface: SLAAC: link-local, RS, then an RA gives prefix::EUI-64, default route, MTU", () => {
  const link = new TestLink();
  const a = link.add(MAC_A);
  a.enableSlaac();
  const ll = a.addresses()[0];
  assertEquals([format_addr(ll.addr), ll.state, ll.origin], [
    "fe80::ff:fe00:a",
    "tentative",
    "link-local",
  ]);
  link.tick(3000);
  assertEquals(a.addresses()[0].state, "preferred");
  const rs = link.sent[0].filter((f) =>
    ethertype(f) === ETHERTYPE_IPV6 && f[54] === NDP_ROUTER_SOLICIT
  );
  assertEquals(rs.length, 1);
  assertEquals(format_addr(parse_ipv6(rs[0], 14)!.src_addr), "fe80::ff:fe00:a");
  link.tick(10_000);
  assertEquals(
    link.sent[0].filter((f) => ethertype(f) === ETHERTYPE_IPV6 && f[54] === NDP_ROUTER_SOLICIT)
      .length,
    3,
    "RFC 4861 §6.3.7: at most 3 RSs",
  );

  a.receiveFrame(
    raFrame({ lifetime: 1800, prefix: "2001:db8:1::", valid: 86400, preferred: 3600, mtu: 1400 }),
  );
  const g = a.addresses().find((x) => x.origin === "slaac")!;
  assertEquals([format_addr(g.addr), g.prefix, g.state], [
    "2001:db8:1::ff:fe00:a",
    64,
    "tentative",
  ]);
  link.tick(1000);
  assertEquals(a.addresses().find((x) => x.origin === "slaac")!.state, "preferred");
  const routes = a.routes().map((r) =>
    `${format_addr(r.dest.addr)}/${r.dest.prefix} ${r.via ? format_addr(r.via) : "-"}`
  );
  assert(routes.includes("::/0 fe80::1"), routes.join());
  assert(routes.includes("2001:db8:1::/64 -"), routes.join());
  assertEquals(a.mtu6, 1400);
  const far = parse_addr("2001:db8:99::5")!;
  assertEquals(format_addr(a.sourceFor(far)!), "2001:db8:1::ff:fe00:a");
  assertEquals(a.maxSegmentTo(far), 1360);
  // Traffic off-link goes to the router, whose MAC the RA's SLLA option gave.
  link.clearSent();
  assert(a.ping(far, 1, 1, new Uint8Array(8)));
  assertEquals(link.sent[0].length, 1);
  const f = link.sent[0][0];
  assertEquals((f[4] << 8) | f[5], 0x0001, "to the router's MAC");
  assertEquals(format_addr(parse_ipv6(f, 14)!.dst_addr), "2001:db8:99::5");
  // Preferred lifetime over → deprecated; valid lifetime over → gone.
  link.tick(3600_000);
  assertEquals(a.addresses().find((x) => x.origin === "slaac")?.state, "deprecated");
  link.tick(86400_000);
  assertEquals(a.addresses().find((x) => x.origin === "slaac"), undefined);
  assertEquals(a.routes().length, 0, "router and prefix expired too");
});

Deno.test("iface: RA with a short valid lifetime for an existing address keeps 2 hours (RFC 4862 §5.5.3 e)", () => {
  const link = new TestLink();
  const a = link.add(MAC_A);
  a.enableSlaac();
  link.tick(1000);
  a.receiveFrame(raFrame({ lifetime: 0, prefix: "2001:db8:2::", valid: 86400, preferred: 86400 }));
  link.tick(1000);
  a.receiveFrame(raFrame({ lifetime: 0, prefix: "2001:db8:2::", valid: 10, preferred: 10 }));
  link.tick(60_000);
  assert(a.addresses().some((x) => x.origin === "slaac"), "not expired after 10 s");
  link.tick(7_200_000);
  assert(!a.addresses().some((x) => x.origin === "slaac"), "expired after 2 h");
});

Deno.test("iface: PMTU lowered by a crafted frag-needed; UDP then fragments, TCP is refused", () => {
  const { link, a, b } = v4pair();
  const ra = recorder(), rb = recorder();
  a.registerTransport(17, ra);
  b.registerTransport(17, rb);
  a.registerTransport(6, ra);
  sendRaw(a, A4, B4, [1, 2, 3, 4, 5, 6, 7, 8], 17);
  link.run();
  // A router says: fragmentation needed, next-hop MTU 1200 (RFC 1191 §4), quoting A's packet.
  const quoted = link.sent[0].find((f) => ethertype(f) === ETHERTYPE_IPV4)!.slice(14, 14 + 28);
  const icmp = new Uint8Array(14 + 20 + 8 + 28);
  icmp.set(quoted, 42);
  emit_icmpv4(icmp, 34, 3, 4, 1200, 28);
  emit_ipv4(icmp, 14, {
    identification: 1,
    dont_fragment: false,
    ttl: 64,
    protocol: 1,
    src_addr: 0x0a000002,
    dst_addr: 0x0a000001,
  }, 36);
  emit_ethernet(icmp, 0, MAC_A, MAC_B, ETHERTYPE_IPV4);
  a.receiveFrame(icmp);
  assertEquals(ra.errors, [{ kind: "too_big", src: "10.0.0.1", dst: "10.0.0.2", quoteLen: 8 }]);
  assertEquals(a.pathMtu(B4), 1200);
  assertEquals(a.maxSegmentTo(B4), 1180);
  // A forged tiny MTU is clamped to 576.
  emit_icmpv4(icmp, 34, 3, 4, 100, 28);
  a.receiveFrame(icmp);
  assertEquals(a.pathMtu(B4), 576);
  // UDP over the PMTU is fragmented (RFC 791) and B reassembles it.
  const big = Array.from({ length: 2000 }, (_, i) => i & 255);
  link.clearSent();
  assert(sendRaw(a, A4, B4, big, 17));
  assertEquals(link.sent[0].length, 4); // 552 + 552 + 552 + 344
  for (const f of link.sent[0]) assert(f.length - 14 <= 576);
  link.run();
  assertEquals(rb.got.at(-1)!.data, big);
  // TCP (DF) over the PMTU is dropped: it must have used maxSegmentTo.
  assertEquals(sendRaw(a, A4, B4, big, 6), false);
  assertEquals(a.stats.drops.too_big, 1);
  // The entry expires after 10 minutes (RFC 1191 §6.3).
  link.tick(600_001);
  assertEquals(a.pathMtu(B4), 1500);
});

Deno.test("iface: IPv6 Packet Too Big updates the PMTU (floor 1280)", () => {
  const { link, a, b } = v6pair();
  const ra = recorder();
  a.registerTransport(17, ra);
  b.registerTransport(17, recorder());
  sendRaw(a, A6, B6, [0, 1, 0, 2, 0, 12, 0, 0, 9, 9, 9, 9], 17);
  link.run();
  const orig = link.sent[0].find((f) => f[20] === 17)!.slice(14);
  const m = new Uint8Array(14 + 40 + 8 + orig.length);
  m.set(orig, 62);
  emit_icmpv6(m, 54, 2, 0, 1000, orig.length, pseudo_sum_ipv6_addrs(B6, A6, 58));
  emit_ipv6(m, 14, 0, 0, 8 + orig.length, 58, 64, B6, A6);
  emit_ethernet(m, 0, MAC_A, MAC_B, ETHERTYPE_IPV6);
  a.receiveFrame(m);
  assertEquals(a.pathMtu(B6), 1280);
  assertEquals(ra.errors.map((e) => e.kind), ["too_big"]);
});

Deno.test("iface: ICMP errors are not sent about broadcasts, ICMP errors, and are rate-limited", () => {
  const { link, a, b } = v4pair();
  b.registerTransport(253, recorder());
  sendRaw(a, A4, B4, [1]);
  link.run();
  const pkt = link.sent[0].find((f) => ethertype(f) === ETHERTYPE_IPV4)!.slice(14);
  link.clearSent();
  for (let i = 0; i < 30; i++) b.sendIcmpError("port_unreachable", pkt);
  assertEquals(link.sent[1].length, 20);
  assertEquals(b.stats.drops.icmp_rate_limited, 10);
  link.tick(1000); // 10 tokens back
  const bc = pkt.slice();
  bc.set([10, 0, 0, 255], 16);
  b.sendIcmpError("port_unreachable", bc);
  assertEquals(b.stats.drops.icmp_err_suppressed, 1);
  const frag = pkt.slice();
  frag[7] = 1; // non-first fragment
  b.sendIcmpError("port_unreachable", frag);
  assertEquals(b.stats.drops.icmp_err_suppressed, 2);
  // An unknown protocol gets a protocol unreachable (RFC 1122 §3.2.2.1).
  link.clearSent();
  sendRaw(a, A4, B4, [1], 200);
  link.run();
  const err = link.sent[1].find((f) => f[23] === 1)!;
  assertEquals([err[34], err[35]], [3, 2]);
});

Deno.test("iface: loopback to our own address is delivered from poll", () => {
  const { link, a } = v4pair();
  const got: number[] = [];
  a.onEchoReply = (_s, _i, seq) => got.push(seq);
  a.ping(A4, 1, 5, new Uint8Array(4));
  assertEquals(got, []);
  link.tick(0);
  assertEquals(got, [5]);
  assertEquals(link.sent[0].length, 0, "nothing on the wire");
});

Deno.test("iface: frame filtering: other MACs, VLAN tags, unknown EtherTypes are counted", () => {
  const { a } = v4pair();
  const f = frame("arp_request");
  f.set([2, 0, 0, 0, 0, 0x99], 0); // unicast to another host
  a.receiveFrame(f);
  assertEquals(a.stats.drops.not_for_us, 1);
  const tagged = new Uint8Array(64);
  emit_ethernet(tagged, 0, MAC_A, MAC_B, ETHERTYPE_IPV4, 5);
  a.receiveFrame(tagged);
  assertEquals(a.stats.drops.vlan_tagged, 1);
  const other = new Uint8Array(64);
  emit_ethernet(other, 0, MAC_A, MAC_B, 0x88cc);
  a.receiveFrame(other);
  assertEquals(a.stats.drops.ethertype, 1);
  // Solicited-node multicast of an address we do not have.
  const mc = new Uint8Array(64);
  emit_ethernet(mc, 0, 0x3333ff000077, MAC_B, ETHERTYPE_IPV6);
  a.receiveFrame(mc);
  assertEquals(a.stats.drops.not_for_us, 2);
});

Deno.test("iface: captured kernel frames: ARP reply and echo reply match the kernel's bytes", () => {
  const clock = new ManualClock(0);
  const out: Uint8Array[] = [];
  const a = new Iface((f) => (out.push(f.slice()), true), {
    mac: 0x02000000000a,
    clock,
    rng: new SeededRng(1),
  });
  a.addAddress(cidr("10.55.0.1/24"));
  out.length = 0;
  a.receiveFrame(frame("arp_request"));
  assertEquals(out.length, 1);
  assertEquals([...out[0]], [...frame("arp_reply")], "byte-exact with the kernel's reply");
  // Echo: the kernel's reply (from B) vs ours when we are B.
  const b = new Iface((f) => (out.push(f.slice()), true), {
    mac: 0x02000000000b,
    clock,
    rng: new SeededRng(1),
  });
  b.addAddress(cidr("10.55.0.2/24"));
  b.receiveFrame(frame("arp_request")); // B's own request looped back: ignored
  assertEquals(b.stats.drops.arp_own, 1);
  b.receiveFrame(frame("arp_reply")); // the reply to B's request: learns A
  out.length = 0;
  b.receiveFrame(frame("icmp4_echo_request"));
  assertEquals(out.length, 1);
  const mine = out[0], kernel = frame("icmp4_echo_reply");
  const v = parse_ipv4(mine, 14)!;
  assertEquals(mine.length, kernel.length);
  assertEquals([...mine.subarray(0, 14)], [...kernel.subarray(0, 14)]);
  assertEquals([...mine.subarray(14 + v.header_len)], [...kernel.subarray(34)], "ICMP identical");
  // UDP to a closed port: the port unreachable quotes the same bytes as the kernel's.
  const udpIn = frame("udp4");
  // A transport that has no socket for the port, as UdpEngine does.
  out.length = 0;
  b.registerTransport(17, {
    input: () => b.sendIcmpError("port_unreachable", b.inputPacket!),
  });
  b.receiveFrame(udpIn);
  const ku = frame("icmp4_port_unreachable");
  assertEquals([...out[0].subarray(34)], [...ku.subarray(34)]);
});

Deno.test("iface: captured NS for our address is answered with a solicited NA", () => {
  const clock = new ManualClock(0);
  const out: Uint8Array[] = [];
  const b = new Iface((f) => (out.push(f.slice()), true), {
    mac: 0x02000000000b,
    clock,
    rng: new SeededRng(1),
  });
  b.addAddress(cidr("fd55::2/64"));
  clock.advance(1000);
  b.poll(clock.now());
  out.length = 0;
  b.receiveFrame(frame("ndp_ns"));
  assertEquals(out.length, 1);
  const na = out[0], kernel = frame("ndp_na");
  // Same addresses, target and TLLA option; the kernel (a router in that capture) also set R.
  assertEquals([...na.subarray(0, 14)], [...kernel.subarray(0, 14)]);
  assertEquals([...na.subarray(22, 54)], [...kernel.subarray(22, 54)]);
  assertEquals(na[58] & 0x60, 0x60, "S and O");
  assertEquals([...na.subarray(62, 86)], [...kernel.subarray(62, 86)]);
  assertEquals(b.neighbours()[0].mac, 0x02000000000a);
});

Deno.test("iface: snapshot/restore carries addresses, routes, neighbours, PMTU to a new host", () => {
  const { link, a, b } = v4pair();
  b.registerTransport(253, recorder());
  a.addRoute(cidr("0.0.0.0/0"), parse_addr("10.0.0.254"));
  sendRaw(a, A4, B4, [1]);
  link.run();
  const snap = structuredClone(a.snapshot());
  const clock2 = new ManualClock(5);
  const out: Uint8Array[] = [];
  const c = new Iface((f) => (out.push(f.slice()), true), {
    mac: MAC_A,
    clock: clock2,
    rng: new SeededRng(2),
  });
  c.restore(snap);
  assertEquals(c.addresses(), a.addresses());
  assertEquals(c.routes(), a.routes());
  assertEquals(c.neighbours(), a.neighbours());
  // The neighbour is known: the packet goes out without ARP.
  sendRaw(c, A4, B4, [2]);
  assertEquals(out.length, 1);
  assertEquals(ethertype(out[0]), ETHERTYPE_IPV4);
  // Deadlines moved to the new clock: still reachable right after restore.
  assertGreater(c.poll(clock2.now()), clock2.now());
});

Deno.test("iface: routes: longest prefix match, default via gateway, source selection", () => {
  const link = new TestLink();
  const a = link.add(MAC_A);
  a.addAddress(cidr("10.0.0.1/24"));
  a.addAddress(cidr("192.168.5.9/16"));
  a.addRoute(cidr("0.0.0.0/0"), parse_addr("10.0.0.254"));
  a.addRoute(cidr("172.16.0.0/12"), parse_addr("192.168.0.1"));
  assertEquals(format_addr(a.sourceFor(parse_addr("172.20.1.1")!)!), "192.168.5.9");
  assertEquals(format_addr(a.sourceFor(parse_addr("8.8.8.8")!)!), "10.0.0.1");
  link.clearSent();
  a.ping(parse_addr("172.20.1.1")!, 1, 1, new Uint8Array(0));
  const req = parse_arp(link.sent[0][0], 14)!;
  assertEquals(req.target_protocol_addr, 0xc0a80001, "ARP for the gateway, not the destination");
  a.removeRoute(cidr("0.0.0.0/0"));
  assertEquals(a.sourceFor(parse_addr("8.8.8.8")!), undefined);
  assertEquals(a.ping(parse_addr("8.8.8.8")!, 1, 1, new Uint8Array(0)), false);
  assertEquals(a.stats.drops.no_route, 1);
  // IPv6: global for global destinations, link-local for link-local ones.
  a.enableSlaac();
  a.addAddress(cidr("fd00::1/64"));
  link.tick(1000);
  assertEquals(format_addr(a.sourceFor(parse_addr("fd00::9")!)!), "fd00::1");
  assertEquals(format_addr(a.sourceFor(parse_addr("fe80::9")!)!), "fe80::ff:fe00:a");
  assertEquals(a.sourceFor(parse_addr("2001:db8::1")!), undefined, "no default route");
  assert(addr_equal(eui64(MAC_A), new Uint8Array([0, 0, 0, 0xff, 0xfe, 0, 0, 0x0a])));
});

Deno.test("iface: 100k malformed frames never throw and are counted", () => {
  const { link, a, b } = v4pair();
  a.addAddress(cidr("fd00::1/64"));
  a.enableSlaac();
  link.tick(2000);
  a.registerTransport(17, recorder());
  a.registerTransport(6, recorder());
  const rng = new SeededRng(1234);
  const seeds = [
    "arp_request",
    "icmp4_echo_request",
    "ndp_ns",
    "ndp_na",
    "ndp_ra",
    "icmp6_echo_request",
    "udp4",
    "udp6",
    "icmp4_port_unreachable",
    "icmp6_port_unreachable",
    "icmp4_time_exceeded",
    "icmp6_time_exceeded",
    "ipv4_frag1",
    "ipv6_frag1",
    "tcp4_syn",
    "mld_report_hbh",
  ] as const;
  const bases = seeds.map((s) => {
    const f = frame(s);
    // Address them to A so they get past the MAC filter.
    if ((f[0] & 1) === 0) f.set([2, 0, 0, 0, 0, 0x0a], 0);
    return f;
  });
  const before = a.stats.framesIn;
  for (let i = 0; i < 100_000; i++) {
    let f: Uint8Array;
    const mode = rng.below(3);
    if (mode === 0) {
      f = rng.fill(new Uint8Array(rng.below(120)));
      if (rng.below(2) === 0 && f.length >= 14) f.set([2, 0, 0, 0, 0, 0x0a], 0);
    } else {
      const base = bases[rng.below(bases.length)];
      f = base.slice(0, mode === 1 ? rng.below(base.length + 1) : base.length);
      const flips = 1 + rng.below(4);
      for (let k = 0; k < flips && f.length > 14; k++) {
        f[14 + rng.below(f.length - 14)] = rng.u32() & 255;
      }
    }
    a.receiveFrame(f);
    if ((i & 1023) === 0) link.tick(100);
  }
  link.run();
  assertEquals(a.stats.framesIn - before >= 100_000, true);
  assertEquals(a.stats.drops.internal_error, undefined);
  let dropped = 0;
  for (const k in a.stats.drops) dropped += a.stats.drops[k];
  assertGreater(dropped, 50_000);
  assert(b.stats.drops.internal_error === undefined);
});

Deno.test("iface: captured kernel fragments of ping -s 3000 reassemble; the reply is fragmented", () => {
  const clock = new ManualClock(0);
  const out: Uint8Array[] = [];
  const b = new Iface((f) => (out.push(f.slice()), true), {
    mac: 0x02000000000b,
    clock,
    rng: new SeededRng(1),
  });
  b.addAddress(cidr("10.55.0.2/24"));
  b.receiveFrame(frame("arp_reply")); // knows A's MAC
  out.length = 0;
  b.receiveFrame(frame("ipv4_frag1"));
  b.receiveFrame(frame("ipv4_frag2"));
  assertEquals(out.length, 0);
  b.receiveFrame(frame("ipv4_frag3"));
  assertEquals(out.length, 3, "3008 bytes of ICMP in 1480-byte fragments");
  let total = 0;
  for (const f of out) {
    const v = parse_ipv4(f, 14)!;
    assertEquals(v.dst_addr, 0x0a370001);
    total += v.payload_len;
  }
  assertEquals(total, 3008);
  const first = parse_ipv4(out[0], 14)!;
  assertEquals([first.more_fragments, out[0][34]], [true, 0], "echo reply, MF set");
});
