import { assert, assertEquals } from "@std/assert";
import {
  emit_ipv4,
  format_ipv4,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  ipv4_fill_checksum,
  Ipv4View,
  parse_ipv4,
  parse_ipv4_addr,
} from "./ipv4.ts";
import { frame } from "./_captured.ts";

function reemit(f: Uint8Array): Uint8Array {
  const v = parse_ipv4(f, 14)!;
  const out = new Uint8Array(20);
  emit_ipv4(out, 0, {
    tos: (v.dscp << 2) | v.ecn,
    identification: v.identification,
    dont_fragment: v.dont_fragment,
    more_fragments: v.more_fragments,
    fragment_offset: v.fragment_offset,
    ttl: v.ttl,
    protocol: v.protocol,
    src_addr: v.src_addr,
    dst_addr: v.dst_addr,
  }, v.payload_len);
  return out;
}

Deno.test("ipv4: captured echo request parses, re-emits byte-exact", () => {
  const f = frame("icmp4_echo_request");
  const v = parse_ipv4(f, 14)!;
  assertEquals([v.version, v.ihl, v.header_len, v.total_length, v.payload_len], [4, 5, 20, 84, 64]);
  assertEquals([v.dscp, v.ecn, v.identification, v.dont_fragment, v.is_fragment], [
    0,
    0,
    0x7782,
    true,
    false,
  ]);
  assertEquals([v.ttl, v.protocol], [64, IP_PROTO_ICMP]);
  assertEquals([format_ipv4(v.src_addr), format_ipv4(v.dst_addr)], ["10.55.0.1", "10.55.0.2"]);
  assertEquals(v.payload_offset, 34);
  for (
    const name of [
      "icmp4_echo_request",
      "icmp4_echo_reply",
      "icmp4_time_exceeded",
      "icmp4_port_unreachable",
      "udp4",
      "tcp4_syn",
      "ipv4_frag1",
      "ipv4_frag2",
      "ipv4_frag3",
    ] as const
  ) {
    const g = frame(name);
    assertEquals(reemit(g), g.subarray(14, 34), name);
  }
});

Deno.test("ipv4: captured fragments of ping -s 3000 give flags and offsets", () => {
  const [a, b, c] = (["ipv4_frag1", "ipv4_frag2", "ipv4_frag3"] as const).map((n) =>
    parse_ipv4(frame(n), 14)!
  );
  assertEquals([a.more_fragments, a.fragment_offset, a.payload_len, a.is_fragment], [
    true,
    0,
    1480,
    true,
  ]);
  assertEquals([b.more_fragments, b.fragment_offset, b.payload_len], [true, 1480, 1480]);
  assertEquals([c.more_fragments, c.fragment_offset, c.payload_len, c.is_fragment], [
    false,
    2960,
    48,
    true,
  ]);
  assertEquals([a.identification, b.identification, c.identification], [0x778b, 0x778b, 0x778b]);
  assert(!a.dont_fragment);
});

Deno.test("ipv4: time exceeded carries TOS 0xc0 (network control) and the whole invoking packet", () => {
  const f = frame("icmp4_time_exceeded");
  const v = parse_ipv4(f, 14)!;
  assertEquals([v.dscp, v.ecn], [48, 0]);
  const inner = parse_ipv4(f, v.payload_offset + 8)!;
  assertEquals([inner.ttl, format_ipv4(inner.dst_addr)], [1, "10.99.0.5"]);
  const u = parse_ipv4(frame("icmp4_port_unreachable"), 34 + 8)!;
  assertEquals(u.protocol, IP_PROTO_UDP);
});

Deno.test("ipv4: malformed headers are refused with a reason, never thrown", () => {
  const f = frame("udp4");
  const v = new Ipv4View();
  for (let n = 0; n < 38; n++) assertEquals(v.reset(f, 14, n), "truncated", `length ${n}`);
  assertEquals(v.reset(f, 14, 38), "ok");
  const g = () => frame("udp4");
  let x = g();
  x[14] = 0x65;
  assertEquals(v.reset(x, 14), "bad_version");
  x = g();
  x[14] = 0x44;
  assertEquals(v.reset(x, 14), "bad_ihl");
  x = g();
  x[14] = 0x4f; // 60-byte header in a 38-byte packet
  assertEquals(v.reset(x, 14), "truncated");
  x = g();
  x[16] = 0;
  x[17] = 19; // Total Length below the header
  assertEquals(v.reset(x, 14), "bad_length");
  x = g();
  x[17] = 200; // Total Length past the buffer
  assertEquals(v.reset(x, 14), "truncated");
  x = g();
  x[22] ^= 1; // TTL changed without fixing the checksum
  assertEquals(v.reset(x, 14), "bad_checksum");
  assertEquals(v.reset(x, 14, x.length - 14, false), "ok");
  ipv4_fill_checksum(x, 14);
  assertEquals(v.reset(x, 14), "ok");
  // Ethernet padding after Total Length is not part of the packet.
  const padded = new Uint8Array(60);
  padded.set(f);
  assertEquals(v.reset(padded, 14), "ok");
  assertEquals(v.payload_len, 18);
});

Deno.test("ipv4: address text round-trips", () => {
  assertEquals(parse_ipv4_addr("10.55.0.1"), 0x0a370001);
  assertEquals(format_ipv4(0xffffffff), "255.255.255.255");
  assertEquals(parse_ipv4_addr("256.0.0.1"), undefined);
  assertEquals(parse_ipv4_addr("1.2.3"), undefined);
});
