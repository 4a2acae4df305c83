import { assert, assertEquals } from "@std/assert";
import {
  emit_ipv6,
  format_ipv6,
  IPV6_NH_FRAGMENT,
  IPV6_NH_HOP_BY_HOP,
  Ipv6View,
  parse_ipv6,
  parse_ipv6_addr,
} from "./ipv6.ts";
import { IP_PROTO_ICMPV6, IP_PROTO_TCP, IP_PROTO_UDP } from "./ipv4.ts";
import { frame } from "./_captured.ts";

Deno.test("ipv6: captured echo request parses and re-emits byte-exact", () => {
  const f = frame("icmp6_echo_request");
  const v = parse_ipv6(f, 14)!;
  assertEquals([v.version, v.traffic_class, v.payload_length, v.next_header, v.hop_limit], [
    6,
    0,
    64,
    IP_PROTO_ICMPV6,
    64,
  ]);
  assertEquals([format_ipv6(v.src_addr), format_ipv6(v.dst_addr)], ["fd55::1", "fd55::2"]);
  assertEquals([v.upper_protocol, v.upper_offset, v.upper_len, v.is_fragment], [58, 54, 64, false]);
  for (
    const name of [
      "icmp6_echo_request",
      "icmp6_echo_reply",
      "ndp_ns",
      "ndp_na",
      "ndp_ra",
      "udp6",
      "tcp6_syn",
      "icmp6_time_exceeded",
    ] as const
  ) {
    const g = frame(name);
    const w = parse_ipv6(g, 14)!;
    const out = new Uint8Array(40);
    emit_ipv6(
      out,
      0,
      w.traffic_class,
      w.flow_label,
      w.payload_length,
      w.next_header,
      w.hop_limit,
      w.src_addr,
      w.dst_addr,
    );
    assertEquals(out, g.subarray(14, 54), name);
  }
  assertEquals(parse_ipv6(frame("udp6"), 14)!.upper_protocol, IP_PROTO_UDP);
  assertEquals(parse_ipv6(frame("tcp6_syn"), 14)!.upper_protocol, IP_PROTO_TCP);
});

Deno.test("ipv6: the kernel's MLDv2 report walks its Hop-by-Hop header to ICMPv6", () => {
  const f = frame("mld_report_hbh");
  const v = parse_ipv6(f, 14)!;
  assertEquals(v.next_header, IPV6_NH_HOP_BY_HOP);
  assertEquals([v.upper_protocol, v.upper_offset, v.hop_limit], [IP_PROTO_ICMPV6, 14 + 48, 1]);
  assertEquals(format_ipv6(v.dst_addr), "ff02::16");
  assertEquals(f[v.upper_offset], 143); // MLDv2 report
});

Deno.test("ipv6: the captured first fragment of ping -6 -s 3000", () => {
  const v = parse_ipv6(frame("ipv6_frag1"), 14)!;
  assertEquals(v.next_header, IPV6_NH_FRAGMENT);
  assertEquals([v.fragment_header_offset, v.upper_protocol, v.upper_offset], [54, 58, 62]);
  assertEquals([v.fragment_offset, v.more_fragments, v.is_fragment], [0, true, true]);
  assertEquals(v.fragment_identification, 0x4126d6d1);
  assertEquals(v.upper_len, 1448);
});

function with_ext(chain: number[][], upper: number): Uint8Array {
  // An IPv6 header followed by the given extension headers (each [next?, len, …] filled here).
  const base = frame("icmp6_echo_request");
  const exts = chain.map((e) => e.length).reduce((a, b) => a + b, 0);
  const out = new Uint8Array(54 + exts + 64);
  out.set(base.subarray(0, 54));
  let p = 54;
  out[20] = chain.length ? chain[0][0] : upper;
  for (let i = 0; i < chain.length; i++) {
    out.set(chain[i], p);
    out[p] = i + 1 < chain.length ? chain[i + 1][0] : upper;
    p += chain[i].length;
  }
  out.set(base.subarray(54), p);
  const pl = out.length - 54;
  out[18] = pl >>> 8;
  out[19] = pl & 255;
  return out;
}

Deno.test("ipv6: extension header walk: order, bounds and count are enforced", () => {
  const v = new Ipv6View();
  // Note: first byte of each chain element is the header's own type (used for the previous next).
  const dst = [60, 0, 0, 0, 0, 0, 0, 0];
  const frag = [44, 0, 0, 0, 0, 0, 0, 0];
  const hbh = [0, 0, 0, 0, 0, 0, 0, 0];
  const ah = [51, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // (1 + 2) * 4 = 12 bytes
  assertEquals(v.reset(with_ext([hbh, dst, frag, ah], 58), 14), "ok");
  assertEquals([v.upper_protocol, v.upper_offset], [58, 54 + 36]);
  assertEquals(v.is_fragment, false); // an atomic fragment (RFC 6946)
  assertEquals(v.reset(with_ext([dst, hbh], 58), 14), "bad_ext_order");
  assertEquals(v.reset(with_ext(new Array(9).fill(dst), 58), 14), "too_many_ext");
  const long = with_ext([dst], 58);
  long[55] = 200; // Hdr Ext Len far past the payload
  assertEquals(v.reset(long, 14), "bad_ext");
  const nothing = with_ext([], 59); // No Next Header
  assertEquals(v.reset(nothing, 14), "ok");
  assertEquals(v.upper_protocol, 59);
});

Deno.test("ipv6: malformed: truncated at every length, bad version, payload past the buffer", () => {
  const f = frame("udp6");
  const v = new Ipv6View();
  for (let n = 0; n < f.length - 14; n++) assertEquals(v.reset(f, 14, n), "truncated", `${n}`);
  assertEquals(v.reset(f, 14), "ok");
  const g = frame("udp6");
  g[14] = 0x45;
  assertEquals(v.reset(g, 14), "bad_version");
  const h = frame("mld_report_hbh");
  // Cut inside the Hop-by-Hop header, with Payload Length saying so.
  h[18] = 0;
  h[19] = 4;
  assertEquals(v.reset(h, 14), "bad_ext");
});

Deno.test("ipv6: address text round-trips (RFC 5952 form)", () => {
  for (const s of ["::", "::1", "fd55::2", "fe80::ff:fe00:b", "2001:db8:0:1:1:1:1:1", "1::"]) {
    assertEquals(format_ipv6(parse_ipv6_addr(s)!), s);
  }
  assertEquals(format_ipv6(parse_ipv6_addr("2001:db8:0:0:1:0:0:1")!), "2001:db8::1:0:0:1");
  assert(parse_ipv6_addr("1:2:3:4:5:6:7:8:9") === undefined);
  assert(parse_ipv6_addr("1::2::3") === undefined);
  assert(parse_ipv6_addr("g::") === undefined);
});
