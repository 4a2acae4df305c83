import { assert, assertEquals } from "@std/assert";
import {
  emit_icmpv4,
  ICMPV4_CODE_PORT_UNREACHABLE,
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_TIME_EXCEEDED,
  Icmpv4View,
  parse_icmpv4,
} from "./icmpv4.ts";
import { format_ipv4, parse_ipv4 } from "./ipv4.ts";
import { parse_udp } from "./udp.ts";
import { frame } from "./_captured.ts";

function icmp_of(f: Uint8Array) {
  const ip = parse_ipv4(f, 14)!;
  return parse_icmpv4(f, ip.payload_offset, ip.payload_len)!;
}

Deno.test("icmpv4: captured echo request/reply parse and re-emit byte-exact", () => {
  const q = icmp_of(frame("icmp4_echo_request"));
  assertEquals([q.type, q.code, q.sequence_number, q.data_len], [ICMPV4_ECHO_REQUEST, 0, 1, 56]);
  const r = icmp_of(frame("icmp4_echo_reply"));
  assertEquals([r.type, r.identifier, r.sequence_number], [ICMPV4_ECHO_REPLY, q.identifier, 1]);
  for (
    const name of [
      "icmp4_echo_request",
      "icmp4_echo_reply",
      "icmp4_time_exceeded",
      "icmp4_port_unreachable",
    ] as const
  ) {
    const f = frame(name);
    const v = icmp_of(f);
    const out = f.slice();
    out.fill(0, v.offset, v.offset + 8);
    const rest = ((f[v.offset + 4] << 24) | (f[v.offset + 5] << 16) | (f[v.offset + 6] << 8) |
      f[v.offset + 7]) >>> 0;
    emit_icmpv4(out, v.offset, v.type, v.code, rest, v.data_len);
    assertEquals(out, f, name);
  }
});

Deno.test("icmpv4: captured errors carry the invoking packet", () => {
  const te = icmp_of(frame("icmp4_time_exceeded"));
  assertEquals([te.type, te.code, te.is_error], [ICMPV4_TIME_EXCEEDED, 0, true]);
  const inner = parse_ipv4(te.buf, te.data_offset)!;
  assertEquals([format_ipv4(inner.dst_addr), inner.ttl], ["10.99.0.5", 1]);
  const pu = icmp_of(frame("icmp4_port_unreachable"));
  assertEquals([pu.type, pu.code], [ICMPV4_DEST_UNREACHABLE, ICMPV4_CODE_PORT_UNREACHABLE]);
  const ip = parse_ipv4(pu.buf, pu.data_offset)!;
  const u = parse_udp(pu.buf, ip.payload_offset, ip.payload_len, ip.pseudo_sum())!;
  assertEquals(u.dst_port, 9999);
  assert(!icmp_of(frame("icmp4_echo_request")).is_error);
});

Deno.test("icmpv4: fragmentation needed carries the next-hop MTU (RFC 1191)", () => {
  const b = new Uint8Array(8 + 28);
  emit_icmpv4(b, 0, ICMPV4_DEST_UNREACHABLE, 4, 1400, 28);
  const v = parse_icmpv4(b)!;
  assertEquals([v.code, v.next_hop_mtu], [4, 1400]);
});

Deno.test("icmpv4: truncated at every length below 8; any flipped bit fails the checksum", () => {
  const f = frame("icmp4_echo_request");
  const v = new Icmpv4View();
  for (let n = 0; n < 8; n++) assertEquals(v.reset(f, 34, n), "truncated");
  for (let i = 34; i < f.length; i++) {
    const g = frame("icmp4_echo_request");
    g[i] ^= 0x04;
    assertEquals(v.reset(g, 34), "bad_checksum", `byte ${i}`);
  }
});
