import { assertEquals } from "@std/assert";
import { emit_udp, parse_udp, UdpView } from "./udp.ts";
import { parse_ipv4 } from "./ipv4.ts";
import { parse_ipv6 } from "./ipv6.ts";
import { frame } from "./_captured.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("udp: captured IPv4 and IPv6 datagrams parse, verify and re-emit byte-exact", () => {
  const f4 = frame("udp4");
  const ip4 = parse_ipv4(f4, 14)!;
  const u4 = parse_udp(f4, ip4.payload_offset, ip4.payload_len, ip4.pseudo_sum())!;
  assertEquals([u4.dst_port, u4.length, u4.payload_len], [9999, 18, 10]);
  assertEquals(
    text(f4.subarray(u4.payload_offset, u4.payload_offset + u4.payload_len)),
    "hello weft",
  );
  const f6 = frame("udp6");
  const ip6 = parse_ipv6(f6, 14)!;
  const u6 = parse_udp(f6, ip6.upper_offset, ip6.upper_len, ip6.pseudo_sum(), true)!;
  assertEquals([u6.dst_port, u6.length], [9999, 19]);
  assertEquals(text(f6.subarray(u6.payload_offset)), "hello weft6");
  for (const [f, u, ps] of [[f4, u4, ip4.pseudo_sum()], [f6, u6, ip6.pseudo_sum()]] as const) {
    const out = f.slice();
    out.fill(0, u.offset, u.offset + 8);
    emit_udp(out, u.offset, u.src_port, u.dst_port, u.payload_len, ps);
    assertEquals(out, f);
  }
});

Deno.test("udp: malformed datagrams: truncation, Length, checksum, zero checksum rules", () => {
  const f = frame("udp4");
  const ip = parse_ipv4(f, 14)!;
  const ps = ip.pseudo_sum();
  const v = new UdpView();
  for (let n = 0; n < 18; n++) assertEquals(v.reset(f, 34, n, ps), "truncated", `${n}`);
  let g = frame("udp4");
  g[39] = 7;
  assertEquals(v.reset(g, 34, 18, ps), "bad_length");
  g = frame("udp4");
  g[45] ^= 0x20;
  assertEquals(v.reset(g, 34, 18, ps), "bad_checksum");
  assertEquals(v.reset(g, 34, 18, -1), "ok");
  g[40] = g[41] = 0; // no checksum: fine over IPv4, not over IPv6 (RFC 8200 §8.1)
  assertEquals(v.reset(g, 34, 18, ps), "ok");
  assertEquals(v.reset(g, 34, 18, ps, true), "bad_checksum");
});

Deno.test("udp: a checksum that computes to 0 is sent as 0xffff", () => {
  // Choose the payload so the sum is 0xffff: the checksum field would be 0.
  const b = new Uint8Array(10);
  emit_udp(b, 0, 1, 2, 2, 0);
  const c = (b[6] << 8) | b[7];
  b[8] = c >>> 8;
  b[9] = c & 255;
  emit_udp(b, 0, 1, 2, 2, 0);
  assertEquals((b[6] << 8) | b[7], 0xffff);
  assertEquals(new UdpView().reset(b, 0, 10, 0), "ok");
});
