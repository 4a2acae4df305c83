import { assert, assertEquals, assertThrows } from "@std/assert";
import { format_addr, type IpAddr, parse_addr } from "./addr.ts";
import type { IcmpErrorKind } from "./ip_io.ts";
import {
  emit_ethernet,
  emit_ipv4,
  emit_ipv6,
  emit_udp,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  mac_at,
  MAC_BROADCAST,
  parse_ipv4,
  pseudo_sum_ipv4,
  pseudo_sum_ipv6_addrs,
} from "./wire/mod.ts";
import { UdpEngine } from "./udp.ts";
import { cidr, ethertype, MAC_A, MAC_B, TestLink } from "./iface/_link_test_util.ts";

const A4 = parse_addr("10.0.0.1")!, B4 = parse_addr("10.0.0.2")!;
const A6 = parse_addr("fd00::1")!, B6 = parse_addr("fd00::2")!;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function setup() {
  const link = new TestLink();
  const a = link.add(MAC_A), b = link.add(MAC_B);
  a.addAddress(cidr("10.0.0.1/24"));
  b.addAddress(cidr("10.0.0.2/24"));
  a.addAddress(cidr("fd00::1/64"));
  b.addAddress(cidr("fd00::2/64"));
  link.tick(1500);
  link.clearSent();
  return { link, a, b, ua: new UdpEngine(a), ub: new UdpEngine(b) };
}

Deno.test("udp: send and receive over IPv4 and IPv6, replies to the source port", () => {
  const { link, ua, ub } = setup();
  const server = ub.bind(9999);
  const got: string[] = [];
  server.onDatagram = (d, src, port) => {
    got.push(`${format_addr(src)}:${port} ${dec(d)}`);
    server.sendTo(enc(`re ${dec(d)}`), src.slice(), port);
  };
  const client = ua.bind(0);
  assert(client.localPort >= 49152 && client.localPort <= 65535);
  const replies: string[] = [];
  client.onDatagram = (d, src, port) => replies.push(`${format_addr(src)}:${port} ${dec(d)}`);
  assert(client.sendTo(enc("hello"), B4, 9999));
  link.run();
  assert(client.sendTo(enc("hello6"), B6, 9999));
  link.run();
  const p = client.localPort;
  assertEquals(got, [`10.0.0.1:${p} hello`, `fd00::1:${p} hello6`]);
  assertEquals(replies, ["10.0.0.2:9999 re hello", "fd00::2:9999 re hello6"]);
  assertEquals([ua.stats.datagramsIn, ub.stats.datagramsIn], [2, 2]);
});

Deno.test("udp: bind conflicts, specific before wildcard, ephemeral ports", () => {
  const { link, ua, ub } = setup();
  ub.bind(53);
  assertThrows(() => ub.bind(53), Deno.errors.AddrInUse);
  assertThrows(() => ub.bind(53, { addr: B4 }), Deno.errors.AddrInUse);
  assertThrows(() => ub.bind(54, { addr: parse_addr("10.9.9.9")! }), Deno.errors.AddrNotAvailable);
  // Different specific addresses share a port; a datagram goes to the matching one.
  const s4 = ub.bind(60, { addr: B4 }), s6 = ub.bind(60, { addr: B6 });
  assertThrows(() => ub.bind(60, { addr: parse_addr("0.0.0.0")! }), Deno.errors.AddrInUse);
  const got: string[] = [];
  s4.onDatagram = (d) => got.push(`v4 ${dec(d)}`);
  s6.onDatagram = (d) => got.push(`v6 ${dec(d)}`);
  const c = ua.bind(0);
  c.sendTo(enc("x"), B6, 60);
  c.sendTo(enc("y"), B4, 60);
  link.run();
  assertEquals(got, ["v6 x", "v4 y"]);
  s4.close();
  ub.bind(60, { addr: B4 }); // free again after close
  const ports = new Set<number>();
  for (let i = 0; i < 50; i++) ports.add(ua.bind(0).localPort);
  assertEquals(ports.size, 50);
});

Deno.test("udp: a closed port answers with ICMP port unreachable, reported to the sender (v4, v6)", () => {
  const { link, b, ua, ub } = setup();
  const errs: string[] = [];
  const c = ua.bind(40000) as ReturnType<UdpEngine["bind"]> & {
    onError: ((k: IcmpErrorKind, dst: IpAddr, port: number) => void) | undefined;
  };
  c.onError = (k, dst, port) => errs.push(`${k} ${format_addr(dst)}:${port}`);
  c.sendTo(enc("nobody"), B4, 7777);
  link.run();
  c.sendTo(enc("nobody6"), B6, 7777);
  link.run();
  assertEquals(errs, ["port_unreachable 10.0.0.2:7777", "port_unreachable fd00::2:7777"]);
  assertEquals(ub.drops.no_socket, 2);
  // Not for a broadcast datagram (RFC 1122 §4.1.3.1).
  link.clearSent();
  c.sendTo(enc("all"), parse_addr("10.0.0.255")!, 7777);
  link.run();
  assertEquals(link.sent[1].length, 0);
  assertEquals(ub.drops.no_socket, 3);
  assertEquals(b.stats.drops.icmp_rate_limited, undefined);
});

/** A UDP frame to A (MAC_A) built by hand, with `csum` overriding the checksum when given. */
function udpFrame(
  src: IpAddr,
  dst: IpAddr,
  sport: number,
  dport: number,
  data: Uint8Array,
  csum?: number,
) {
  const v6 = dst.length === 16, hl = v6 ? 40 : 20;
  const f = new Uint8Array(14 + hl + 8 + data.length);
  f.set(data, 14 + hl + 8);
  const sum = v6
    ? pseudo_sum_ipv6_addrs(src, dst, 17)
    : pseudo_sum_ipv4(parse_ipv4_u32(src), parse_ipv4_u32(dst), 17);
  emit_udp(f, 14 + hl, sport, dport, data.length, sum);
  if (csum !== undefined) f.set([csum >>> 8, csum & 255], 14 + hl + 6);
  if (v6) emit_ipv6(f, 14, 0, 0, 8 + data.length, 17, 64, src, dst);
  else {
    emit_ipv4(f, 14, {
      identification: 1,
      dont_fragment: false,
      ttl: 64,
      protocol: 17,
      src_addr: parse_ipv4_u32(src),
      dst_addr: parse_ipv4_u32(dst),
    }, 8 + data.length);
  }
  emit_ethernet(f, 0, MAC_A, MAC_B, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
  return f;
}

function parse_ipv4_u32(a: IpAddr): number {
  return ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
}

Deno.test("udp: checksums: bad dropped, zero allowed over IPv4 only", () => {
  const { a, ua } = setup();
  const s = ua.bind(5000);
  const got: string[] = [];
  s.onDatagram = (d) => got.push(dec(d));
  a.receiveFrame(udpFrame(B4, A4, 1, 5000, enc("ok4")));
  a.receiveFrame(udpFrame(B4, A4, 1, 5000, enc("bad4"), 0x1234));
  a.receiveFrame(udpFrame(B4, A4, 1, 5000, enc("zero4"), 0));
  a.receiveFrame(udpFrame(B6, A6, 1, 5000, enc("ok6")));
  a.receiveFrame(udpFrame(B6, A6, 1, 5000, enc("zero6"), 0));
  a.receiveFrame(udpFrame(B6, A6, 1, 5000, enc("bad6"), 0x1234));
  assertEquals(got, ["ok4", "zero4", "ok6"]);
  assertEquals(ua.drops.udp_bad_checksum, 3);
});

Deno.test("udp: DHCP client socket: broadcast from 0.0.0.0 before any address, anyDst receive", () => {
  const link = new TestLink();
  const a = link.add(MAC_A);
  const ua = new UdpEngine(a);
  const other = ua.bind(69);
  const dhcp = ua.bind(68, { anyDst: true });
  assertEquals(format_addr(dhcp.localAddr), "::");
  const got: string[] = [];
  dhcp.onDatagram = (d, src, port) => got.push(`${format_addr(src)}:${port} ${dec(d)}`);
  const otherGot: string[] = [];
  other.onDatagram = (d) => otherGot.push(dec(d));
  assert(dhcp.sendTo(enc("DISCOVER"), parse_addr("255.255.255.255")!, 67));
  const f = link.sent[0].at(-1)!;
  assertEquals(mac_at(f, 0), MAC_BROADCAST);
  const ip = parse_ipv4(f, 14)!;
  assertEquals([ip.src_addr, ip.dst_addr], [0, 0xffffffff]);
  // The OFFER, unicast to the MAC and to the offered address we do not have yet.
  const offered = parse_addr("10.0.0.50")!, server = parse_addr("10.0.0.1")!;
  a.receiveFrame(udpFrame(server, offered, 67, 68, enc("OFFER")));
  // ...and to another port at that address: not delivered, no ICMP (not ours to answer for).
  a.receiveFrame(udpFrame(server, offered, 67, 69, enc("nope")));
  assertEquals(got, ["10.0.0.1:67 OFFER"]);
  assertEquals(otherGot, []);
  dhcp.close();
  assertEquals(a.acceptAnyDstUdp4, false);
  a.receiveFrame(udpFrame(server, offered, 67, 68, enc("late")));
  assertEquals(a.stats.drops.ipv4_not_for_us, 1);
  // After configuration, DHCP broadcasts come from the address.
  a.addAddress(cidr("10.0.0.50/24"));
  const d2 = ua.bind(68, { anyDst: true });
  d2.sendTo(enc("REQUEST"), parse_addr("255.255.255.255")!, 67);
  const f2 = link.sent[0].at(-1)!;
  assertEquals(ethertype(f2), ETHERTYPE_IPV4);
  assertEquals(parse_ipv4(f2, 14)!.src_addr, 0x0a000032);
});

Deno.test("udp: catch-all gets datagrams to any address/port, answers from that address", () => {
  const { link, a, b, ua, ub } = setup();
  a.addRoute({ addr: new Uint8Array(4), prefix: 0 }, B4);
  b.acceptAnyDestination = true;
  const bound = ub.bind(7000);
  const boundGot: string[] = [];
  bound.onDatagram = (d) => boundGot.push(dec(d));
  const all = ub.catchAll();
  assertThrows(() => ub.catchAll(), Deno.errors.AddrInUse);
  const got: string[] = [];
  all.onDatagram = (d, src, sport, dst, dport) => {
    got.push(`${format_addr(src)}:${sport}>${format_addr(dst)}:${dport} ${dec(d)}`);
    assert(all.sendFrom(enc(`re ${dec(d)}`), dst.slice(), dport, src.slice(), sport));
  };
  const client = ua.bind(5555);
  const replies: string[] = [];
  client.onDatagram = (d, src, port) => replies.push(`${format_addr(src)}:${port} ${dec(d)}`);
  const far = parse_addr("203.0.113.5")!;
  assert(client.sendTo(enc("x"), far, 53));
  assert(client.sendTo(enc("y"), B4, 7000)); // a bound socket still wins
  assert(client.sendTo(enc("z"), B4, 7001)); // our own address, unbound port: catch-all
  link.run();
  assertEquals(got, [
    "10.0.0.1:5555>203.0.113.5:53 x",
    "10.0.0.1:5555>10.0.0.2:7001 z",
  ]);
  assertEquals(boundGot, ["y"]);
  assertEquals(replies, ["203.0.113.5:53 re x", "10.0.0.2:7001 re z"]);
  all.close();
  assertEquals(all.sendFrom(enc("late"), far, 53, A4, 5555), false);
  assert(client.sendTo(enc("w"), B4, 7001));
  link.run();
  assertEquals(ub.drops.no_socket, 1); // closed: back to port unreachable
});
