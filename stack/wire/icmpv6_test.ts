import { assert, assertEquals } from "@std/assert";
import {
  emit_icmpv6,
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  icmpv6_fill_checksum,
  ICMPV6_TIME_EXCEEDED,
  Icmpv6View,
  NDP_NA_OVERRIDE,
  NDP_NA_ROUTER,
  NDP_NA_SOLICITED,
  NDP_NEIGHBOR_ADVERT,
  NDP_NEIGHBOR_SOLICIT,
  ndp_next_option,
  NDP_OPT_SOURCE_LLADDR,
  ndp_prefix,
  NDP_PREFIX_AUTONOMOUS,
  ndp_prefix_flags,
  ndp_prefix_length,
  NDP_PREFIX_ON_LINK,
  ndp_prefix_preferred_lifetime,
  ndp_prefix_valid_lifetime,
  ndp_rdnss_addr_offset,
  ndp_rdnss_count,
  ndp_rdnss_lifetime,
  NDP_ROUTER_ADVERT,
  NDP_ROUTER_SOLICIT,
  parse_icmpv6,
  write_ndp_lladdr_option,
  write_ndp_mtu_option,
  write_ndp_neighbor,
  write_ndp_prefix_option,
  write_ndp_ra,
  write_ndp_rdnss_option,
  write_ndp_rs,
} from "./icmpv6.ts";
import { format_ipv6, parse_ipv6, parse_ipv6_addr } from "./ipv6.ts";
import { format_mac } from "./ethernet.ts";
import { parse_udp } from "./udp.ts";
import { frame } from "./_captured.ts";

function icmp_of(f: Uint8Array) {
  const ip = parse_ipv6(f, 14)!;
  const v = new Icmpv6View();
  const r = v.reset(f, ip.upper_offset, ip.upper_len, ip.pseudo_sum());
  assertEquals(r, "ok");
  return { v, ps: ip.pseudo_sum() };
}

Deno.test("icmpv6: captured echo request/reply and errors parse and re-emit byte-exact", () => {
  const { v: q } = icmp_of(frame("icmp6_echo_request"));
  assertEquals([q.type, q.code, q.sequence_number, q.data_len], [ICMPV6_ECHO_REQUEST, 0, 1, 56]);
  const { v: r } = icmp_of(frame("icmp6_echo_reply"));
  assertEquals([r.type, r.identifier], [ICMPV6_ECHO_REPLY, q.identifier]);
  for (
    const name of [
      "icmp6_echo_request",
      "icmp6_echo_reply",
      "icmp6_time_exceeded",
      "icmp6_port_unreachable",
    ] as const
  ) {
    const f = frame(name);
    const { v, ps } = icmp_of(f);
    const out = f.slice();
    out.fill(0, v.offset, v.offset + 8);
    emit_icmpv6(out, v.offset, v.type, v.code, v.rest, v.data_len, ps);
    assertEquals(out, f, name);
  }
  const { v: te } = icmp_of(frame("icmp6_time_exceeded"));
  assertEquals([te.type, te.code], [ICMPV6_TIME_EXCEEDED, 0]);
  const inner = parse_ipv6(te.buf, te.data_offset)!;
  assertEquals([format_ipv6(inner.dst_addr), inner.hop_limit], ["fd99::5", 1]);
  const { v: pu } = icmp_of(frame("icmp6_port_unreachable"));
  assertEquals([pu.type, pu.code], [ICMPV6_DEST_UNREACHABLE, 4]);
  const ip = parse_ipv6(pu.buf, pu.data_offset)!;
  assertEquals(
    parse_udp(pu.buf, ip.upper_offset, ip.upper_len, ip.pseudo_sum(), true)!.dst_port,
    9999,
  );
});

Deno.test("icmpv6: captured NS and NA parse and re-emit byte-exact", () => {
  const ns_f = frame("ndp_ns");
  const { v: ns, ps: ns_ps } = icmp_of(ns_f);
  assertEquals(ns.type, NDP_NEIGHBOR_SOLICIT);
  assertEquals(format_ipv6(ns.target_addr), "fd55::2");
  assertEquals(format_mac(ns.source_lladdr), "02:00:00:00:00:0a");
  assertEquals(ns.target_lladdr, -1);
  let out = ns_f.slice();
  out.fill(0, ns.offset);
  const n1 = write_ndp_neighbor(
    out,
    ns.offset,
    NDP_NEIGHBOR_SOLICIT,
    0,
    ns.target_addr.slice(),
    ns.source_lladdr,
  );
  icmpv6_fill_checksum(out, ns.offset, n1, ns_ps);
  assertEquals(out, ns_f);

  const na_f = frame("ndp_na");
  const { v: na, ps: na_ps } = icmp_of(na_f);
  assertEquals(na.type, NDP_NEIGHBOR_ADVERT);
  assertEquals(na.na_flags, NDP_NA_ROUTER | NDP_NA_SOLICITED | NDP_NA_OVERRIDE);
  assertEquals(format_ipv6(na.target_addr), "fd55::2");
  assertEquals(format_mac(na.target_lladdr), "02:00:00:00:00:0b");
  out = na_f.slice();
  out.fill(0, na.offset);
  const n2 = write_ndp_neighbor(
    out,
    na.offset,
    NDP_NEIGHBOR_ADVERT,
    na.na_flags,
    na.target_addr.slice(),
    na.target_lladdr,
  );
  icmpv6_fill_checksum(out, na.offset, n2, na_ps);
  assertEquals(out, na_f);
});

Deno.test("icmpv6: captured RS and RA (prefix, MTU, RDNSS) parse and re-emit byte-exact", () => {
  const rs_f = frame("ndp_rs");
  const { v: rs, ps: rs_ps } = icmp_of(rs_f);
  assertEquals([rs.type, format_mac(rs.source_lladdr)], [NDP_ROUTER_SOLICIT, "02:00:00:00:00:0b"]);
  let out = rs_f.slice();
  out.fill(0, rs.offset);
  let n = write_ndp_rs(out, rs.offset);
  n += write_ndp_lladdr_option(out, rs.offset + n, NDP_OPT_SOURCE_LLADDR, rs.source_lladdr);
  icmpv6_fill_checksum(out, rs.offset, n, rs_ps);
  assertEquals(out, rs_f);

  const ra_f = frame("ndp_ra");
  const { v: ra, ps: ra_ps } = icmp_of(ra_f);
  assertEquals(ra.type, NDP_ROUTER_ADVERT);
  assertEquals([
    ra.cur_hop_limit,
    ra.ra_flags,
    ra.router_lifetime,
    ra.reachable_time,
    ra.retrans_timer,
  ], [
    64,
    0,
    1800,
    0,
    0,
  ]);
  assertEquals([format_mac(ra.source_lladdr), ra.mtu, ra.prefix_count], [
    "02:00:00:00:00:0b",
    1500,
    1,
  ]);
  const b = ra.buf, p = ra.prefix_offset;
  assertEquals([ndp_prefix_length(b, p), ndp_prefix_flags(b, p)], [
    64,
    NDP_PREFIX_ON_LINK | NDP_PREFIX_AUTONOMOUS,
  ]);
  assertEquals([ndp_prefix_valid_lifetime(b, p), ndp_prefix_preferred_lifetime(b, p)], [
    86400,
    14400,
  ]);
  assertEquals(format_ipv6(ndp_prefix(b, p)), "fd55::");
  const d = ra.rdnss_offset;
  assertEquals([ndp_rdnss_lifetime(b, d), ndp_rdnss_count(b, d)], [600, 1]);
  assertEquals(format_ipv6(b, ndp_rdnss_addr_offset(d, 0)), "fd55::53");
  // The option walk visits SLLA, MTU, prefix, RDNSS and ends exactly at the message end.
  const kinds: number[] = [];
  for (let o = ra.options_offset; o < ra.options_end; o = ndp_next_option(b, o)) kinds.push(b[o]);
  assertEquals(kinds, [1, 5, 3, 25]);

  out = ra_f.slice();
  out.fill(0, ra.offset);
  let m = write_ndp_ra(out, ra.offset, 64, 0, 1800, 0, 0);
  m += write_ndp_lladdr_option(out, ra.offset + m, NDP_OPT_SOURCE_LLADDR, 0x02000000000b);
  m += write_ndp_mtu_option(out, ra.offset + m, 1500);
  m += write_ndp_prefix_option(
    out,
    ra.offset + m,
    64,
    0xc0,
    86400,
    14400,
    parse_ipv6_addr("fd55::")!,
  );
  m += write_ndp_rdnss_option(out, ra.offset + m, 600, parse_ipv6_addr("fd55::53")!);
  icmpv6_fill_checksum(out, ra.offset, m, ra_ps);
  assertEquals(out, ra_f);
});

Deno.test("icmpv6: the kernel's MLDv2 report (not NDP) verifies through the Hop-by-Hop header", () => {
  const f = frame("mld_report_hbh");
  const ip = parse_ipv6(f, 14)!;
  const v = parse_icmpv6(f, ip.upper_offset, ip.upper_len, ip.pseudo_sum())!;
  assertEquals([v.type, v.data_len], [143, 40]);
});

Deno.test("icmpv6: malformed NDP is refused with a reason", () => {
  const base = () => {
    const f = frame("ndp_ra");
    const ip = parse_ipv6(f, 14)!;
    return { f, o: ip.upper_offset, len: ip.upper_len };
  };
  const v = new Icmpv6View();
  let { f, o, len } = base();
  for (let n = 0; n < 16; n++) assertEquals(v.reset(f, o, n, -1), "truncated", `${n}`);
  f[o + 17] = 0; // the SLLA option's length
  assertEquals(v.reset(f, o, len, -1), "bad_option");
  ({ f, o, len } = base());
  f[o + 17] = 40; // runs past the message
  assertEquals(v.reset(f, o, len, -1), "bad_option");
  ({ f, o, len } = base());
  f[o + 25] = 2; // MTU option of 16 bytes
  assertEquals(v.reset(f, o, len, -1), "bad_option");
  ({ f, o, len } = base());
  assertEquals(v.reset(f, o, len - 4, -1), "bad_option"); // cut in the RDNSS option
  ({ f, o, len } = base());
  f[o + 1] = 1; // code must be 0
  assertEquals(v.reset(f, o, len, -1), "bad_ndp");
  ({ f, o, len } = base());
  f[o + 20] ^= 1;
  assertEquals(v.reset(f, o, len, parse_ipv6(f, 14)!.pseudo_sum()), "bad_checksum");
  const ns = frame("ndp_ns");
  ns[62] = 0xff; // a multicast target
  assertEquals(v.reset(ns, 54, 32, -1), "bad_ndp");
  assert(v.reset(frame("ndp_ns"), 54, 32, -1) === "ok");
});
