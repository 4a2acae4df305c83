import { assert, assertEquals } from "@std/assert";
import {
  DHCP_OPT_CLIENT_ID,
  DHCP_OPT_DNS,
  DHCP_OPT_DOMAIN_NAME,
  DHCP_OPT_END,
  DHCP_OPT_INTERFACE_MTU,
  DHCP_OPT_LEASE_TIME,
  DHCP_OPT_MAX_MESSAGE_SIZE,
  DHCP_OPT_MESSAGE_TYPE,
  DHCP_OPT_PAD,
  DHCP_OPT_REBINDING_TIME,
  DHCP_OPT_RENEWAL_TIME,
  DHCP_OPT_REQUESTED_IP,
  DHCP_OPT_ROUTER,
  DHCP_OPT_SERVER_ID,
  DHCP_OPT_SUBNET_MASK,
  DHCP_OPT_VENDOR_CLASS_ID,
  DHCPACK,
  DHCPDISCOVER,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  DhcpView,
  parse_dhcp,
  write_dhcp_end,
  write_dhcp_header,
  write_dhcp_option_addrs,
  write_dhcp_option_bytes,
  write_dhcp_option_u16,
  write_dhcp_option_u32,
  write_dhcp_option_u8,
} from "./dhcp.ts";
import { format_ipv4, parse_ipv4 } from "./ipv4.ts";
import { parse_udp } from "./udp.ts";
import { frame, type FRAMES } from "./_captured.ts";

type Name = keyof typeof FRAMES;
const NAMES: Name[] = ["dhcp_discover", "dhcp_offer", "dhcp_request", "dhcp_ack", "dhcp_release"];
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The captured frame and its UDP payload bounds (checksums verified on the way). */
function payload(name: Name): [Uint8Array, number, number] {
  const f = frame(name);
  const ip = parse_ipv4(f, 14)!;
  const u = parse_udp(f, ip.payload_offset, ip.payload_len, ip.pseudo_sum())!;
  return [f, u.payload_offset, u.payload_len];
}

function dhcp(name: Name): DhcpView {
  const [f, o, n] = payload(name);
  const v = new DhcpView();
  assertEquals(v.reset(f, o, n), "ok", name);
  return v;
}

const ip = (v: number) => format_ipv4(v);
const bytes = (v: DhcpView, at: number, n: number) => Array.from(v.buf.subarray(at, at + n));

Deno.test("dhcp: captured udhcpc DISCOVER and REQUEST parse (RFC 2131 §4.4.1)", () => {
  const d = dhcp("dhcp_discover");
  assertEquals([d.op, d.htype, d.hlen, d.hops, d.xid, d.secs, d.flags], [
    1,
    1,
    6,
    0,
    0xae7b572d,
    0,
    0,
  ]);
  assertEquals([d.ciaddr, d.yiaddr, d.siaddr, d.giaddr, d.broadcast], [0, 0, 0, 0, false]);
  assertEquals(bytes(d, d.chaddr_offset, 6), [2, 0, 0, 0, 0, 0x5c]);
  assertEquals([d.message_type, d.max_message_size], [DHCPDISCOVER, 576]);
  assertEquals(bytes(d, d.parameter_request_offset, d.parameter_request_len), [
    1,
    3,
    6,
    12,
    15,
    26,
    28,
    42,
  ]);
  assertEquals(bytes(d, d.client_id_offset, d.client_id_len), [1, 2, 0, 0, 0, 0, 0x5c]);
  const vc = d.option(DHCP_OPT_VENDOR_CLASS_ID);
  assertEquals(text(d.buf.subarray(vc, vc + d.buf[vc - 1])), "udhcp 1.35.0");
  assertEquals(d.option(99), -1);
  assertEquals([d.requested_ip, d.server_id, d.lease_time, d.router], [-1, -1, -1, -1]);
  assertEquals(d.buf[d.options_end], DHCP_OPT_END);

  const r = dhcp("dhcp_request");
  assertEquals([r.message_type, r.xid, r.secs], [DHCPREQUEST, 0xae7b572d, 2]);
  assertEquals([ip(r.requested_ip), ip(r.server_id)], ["10.56.0.116", "10.56.0.1"]);
});

Deno.test("dhcp: captured udhcpd OFFER and ACK parse (RFC 2132 options)", () => {
  for (const [name, type] of [["dhcp_offer", DHCPOFFER], ["dhcp_ack", DHCPACK]] as const) {
    const v = dhcp(name);
    assertEquals([v.op, v.message_type, v.xid], [2, type, 0xae7b572d]);
    assertEquals([ip(v.yiaddr), ip(v.server_id), v.lease_time], ["10.56.0.116", "10.56.0.1", 3600]);
    assertEquals([ip(v.subnet_mask), ip(v.router), v.router_count], [
      "255.255.255.0",
      "10.56.0.1",
      1,
    ]);
    assertEquals([v.dns_count, ip(v.dns(0)), ip(v.dns(1))], [2, "10.56.0.1", "10.56.0.53"]);
    assertEquals(
      text(v.buf.subarray(v.domain_name_offset, v.domain_name_offset + v.domain_name_len)),
      "weft.test",
    );
    assertEquals([v.interface_mtu, v.renewal_time, v.rebinding_time], [1400, -1, -1]);
    assertEquals(ip(v.router_at(0)), "10.56.0.1");
  }
  const rel = dhcp("dhcp_release");
  assertEquals([rel.message_type, ip(rel.ciaddr), ip(rel.server_id), rel.secs], [
    DHCPRELEASE,
    "10.56.0.116",
    "10.56.0.1",
    5,
  ]);
});

/** Re-emit `v` with the writers, its options in wire order. */
function reemit(v: DhcpView, out: Uint8Array, at: number): number {
  let o = at +
    write_dhcp_header(
      out,
      at,
      v.op,
      v.xid,
      v.secs,
      v.flags,
      v.ciaddr,
      v.yiaddr,
      v.siaddr,
      v.giaddr,
      v.buf,
      v.chaddr_offset,
      v.hlen,
    );
  const b = v.buf;
  for (let p = v.options_offset; p < v.options_end;) {
    const code = b[p], val = p + 2, len = b[p + 1];
    switch (code) {
      case DHCP_OPT_PAD:
        out[o++] = 0;
        p++;
        continue;
      case DHCP_OPT_MESSAGE_TYPE:
        o += write_dhcp_option_u8(out, o, code, v.message_type);
        break;
      case DHCP_OPT_INTERFACE_MTU:
        o += write_dhcp_option_u16(out, o, code, v.interface_mtu);
        break;
      case DHCP_OPT_MAX_MESSAGE_SIZE:
        o += write_dhcp_option_u16(out, o, code, v.max_message_size);
        break;
      case DHCP_OPT_REQUESTED_IP:
        o += write_dhcp_option_u32(out, o, code, v.requested_ip);
        break;
      case DHCP_OPT_SERVER_ID:
        o += write_dhcp_option_u32(out, o, code, v.server_id);
        break;
      case DHCP_OPT_LEASE_TIME:
        o += write_dhcp_option_u32(out, o, code, v.lease_time);
        break;
      case DHCP_OPT_SUBNET_MASK:
        o += write_dhcp_option_u32(out, o, code, v.subnet_mask);
        break;
      case DHCP_OPT_ROUTER:
        o += write_dhcp_option_addrs(out, o, code, [v.router]);
        break;
      case DHCP_OPT_DNS:
        o += write_dhcp_option_addrs(out, o, code, [v.dns(0), v.dns(1)], v.dns_count);
        break;
      default:
        o += write_dhcp_option_bytes(out, o, code, b, val, len);
    }
    p = val + len;
  }
  return write_dhcp_end(out, at, o);
}

Deno.test("dhcp: captured messages re-emit byte-exact with the writers", () => {
  for (const name of NAMES) {
    const v = dhcp(name);
    const out = new Uint8Array(v.length + 10).fill(0xee);
    const n = reemit(v, out, 5);
    assertEquals(n, v.length, name);
    assertEquals(out.subarray(5, 5 + n), v.buf.subarray(v.offset, v.offset + v.length), name);
    assertEquals([out[4], out[5 + n]], [0xee, 0xee]);
  }
});

Deno.test("dhcp: writers: T1/T2 and infinite lease in an ACK padded to 300, longer than 300 kept", () => {
  const b = new Uint8Array(600);
  const mac = new Uint8Array([2, 0, 0, 0, 0, 1]);
  let o = write_dhcp_header(b, 0, 2, 0x01020304, 0, 0x8000, 0, 0x0a000005, 0, 0, mac, 0);
  o += write_dhcp_option_u8(b, o, DHCP_OPT_MESSAGE_TYPE, DHCPACK);
  o += write_dhcp_option_u32(b, o, DHCP_OPT_RENEWAL_TIME, 1800);
  o += write_dhcp_option_u32(b, o, DHCP_OPT_REBINDING_TIME, 3150);
  o += write_dhcp_option_u32(b, o, DHCP_OPT_LEASE_TIME, 0xffffffff);
  const n = write_dhcp_end(b, 0, o);
  assertEquals(n, 300);
  const v = parse_dhcp(b, 0, n)!;
  assertEquals([v.message_type, v.renewal_time, v.rebinding_time, v.lease_time], [
    DHCPACK,
    1800,
    3150,
    0xffffffff,
  ]);
  assertEquals([v.broadcast, ip(v.yiaddr), v.xid], [true, "10.0.0.5", 0x01020304]);
  // Past 300 bytes: no padding added.
  let p = 240;
  for (let i = 0; i < 3; i++) p += write_dhcp_option_bytes(b, p, 200 + i, b, 300, 30);
  assertEquals(write_dhcp_end(b, 0, p), p + 1);
  assertEquals(new DhcpView().reset(b, 0, p + 1), "ok");
});

Deno.test("dhcp: every truncation of every captured message: a reason, never a throw", () => {
  const v = new DhcpView();
  for (const name of NAMES) {
    const [f, off, len] = payload(name);
    // Option boundaries: cutting exactly there leaves a message without End, which is accepted.
    const bounds = new Set<number>();
    for (let p = off + 240; p <= off + len;) {
      bounds.add(p - off);
      if (f[p] === DHCP_OPT_END) {
        for (let q = p - off + 1; q <= len; q++) bounds.add(q);
        break;
      }
      p += f[p] === DHCP_OPT_PAD ? 1 : 2 + f[p + 1];
    }
    for (let n = 0; n < len; n++) {
      const r = v.reset(f, off, n);
      const want = n < 240 ? "truncated" : bounds.has(n) ? "ok" : "bad_option";
      assertEquals(r, want, `${name} cut at ${n}`);
    }
    assertEquals(v.reset(f, off, len + 1), "truncated"); // past the buffer
    assertEquals(v.reset(f, -1, len), "truncated");
  }
});

Deno.test("dhcp: malformed: cookie, hlen, option sizes, bad overload value", () => {
  const v = new DhcpView();
  const [f, off, len] = payload("dhcp_offer");
  const opt = (code: number) => {
    assertEquals(v.reset(f, off, len), "ok");
    return v.option(code);
  };
  let g = f.slice();
  g[off + 236] = 0; // no magic cookie: BOOTP
  assertEquals(v.reset(g, off, len), "bad_cookie");
  g = f.slice();
  g[off + 2] = 17;
  assertEquals(v.reset(g, off, len), "bad_hlen");
  for (
    const [code, bad_len] of [
      [DHCP_OPT_MESSAGE_TYPE, 2],
      [DHCP_OPT_SERVER_ID, 3],
      [DHCP_OPT_LEASE_TIME, 5],
      [DHCP_OPT_ROUTER, 5],
      [DHCP_OPT_DNS, 0],
      [DHCP_OPT_INTERFACE_MTU, 1],
      [DHCP_OPT_DOMAIN_NAME, 0],
    ]
  ) {
    g = f.slice();
    const at = opt(code);
    assert(at > 0, `${code}`);
    g[at - 1] = bad_len;
    assertEquals(v.reset(g, off, len), "bad_option", `option ${code} length ${bad_len}`);
  }
  g = f.slice();
  const mtu = opt(DHCP_OPT_INTERFACE_MTU);
  g[mtu] = 0;
  g[mtu + 1] = 67; // below 68 (RFC 2132 §5.1)
  assertEquals(v.reset(g, off, len), "bad_option");
  // An option length running past the message.
  g = f.slice();
  const dom = opt(DHCP_OPT_DOMAIN_NAME);
  g[dom - 1] = 255;
  assertEquals(v.reset(g, off, len), "bad_option");
  // Option overload (RFC 2132 §9.3) with a value other than 1..3, or of the wrong size.
  g = f.slice();
  const mt = opt(DHCP_OPT_MESSAGE_TYPE);
  g.set([52, 1, 4], mt - 2); // replaces 53/1/2 in place
  assertEquals(v.reset(g, off, len), "option_overload");
  g.set([52, 1, 0], mt - 2);
  assertEquals(v.reset(g, off, len), "option_overload");
  // 52/1/3 is valid; both areas are zero (Pad), so only the message type went missing.
  g.set([52, 1, 3], mt - 2);
  assertEquals(v.reset(g, off, len), "ok");
  assertEquals([v.overload, v.message_type, v.lease_time], [3, -1, 3600]);
  // An option in the overloaded `file` running past its 128 bytes.
  g[off + 108 + 126] = 15;
  g[off + 108 + 127] = 5;
  assertEquals(v.reset(g, off, len), "bad_option");
  // Client id shorter than 2 (RFC 2132 §9.14).
  const [d, doff, dlen] = payload("dhcp_discover");
  assertEquals(v.reset(d, doff, dlen), "ok");
  const cid = v.option(DHCP_OPT_CLIENT_ID);
  d[cid - 1] = 1;
  assertEquals(v.reset(d, doff, dlen), "bad_option");
});

/** An OFFER skeleton: header, then `opts` (raw TLV bytes) in the options field, End, padding. */
function build(opts: number[], file: number[] = [], sname: number[] = []): Uint8Array {
  const b = new Uint8Array(800);
  const mac = new Uint8Array([2, 0, 0, 0, 0, 1]);
  let o = write_dhcp_header(b, 0, 2, 0x11223344, 0, 0, 0, 0x0a000005, 0, 0, mac, 0);
  b.set(opts, o);
  o += opts.length;
  b.set(file, 108);
  b.set(sname, 44);
  return b.subarray(0, write_dhcp_end(b, 0, o));
}

Deno.test("dhcp: option overload: options continue in file, then sname (RFC 2131 §4.1)", () => {
  const v = new DhcpView();
  // Options field: type + overload 3; file: server id, lease, End; sname: router, DNS (no End).
  const b = build(
    [53, 1, DHCPOFFER, 52, 1, 3],
    [54, 4, 10, 0, 0, 1, 0, 51, 4, 0, 0, 0x0e, 0x10, 255, 3, 4, 9, 9, 9, 9],
    [3, 4, 10, 0, 0, 254, 6, 8, 1, 1, 1, 1, 8, 8, 8, 8],
  );
  assertEquals(v.reset(b, 0, b.length), "ok");
  assertEquals([v.overload, v.message_type, ip(v.server_id), v.lease_time], [
    3,
    DHCPOFFER,
    "10.0.0.1",
    3600,
  ]);
  // The router after End in `file` is not an option; the one in `sname` is.
  assertEquals([ip(v.router), v.router_count, v.dns_count, ip(v.dns(1))], [
    "10.0.0.254",
    1,
    2,
    "8.8.8.8",
  ]);
  assertEquals(v.normalized, false); // read in place
  assertEquals(v.option(DHCP_OPT_SERVER_ID), 108 + 2);
  // Overload 1: `sname` is a server name, not options.
  b[240 + 5] = 1;
  assertEquals(v.reset(b, 0, b.length), "ok");
  assertEquals([v.router, v.dns_count, v.lease_time], [-1, 0, 3600]);
  // Overload 2: `file` is a file name.
  b[240 + 5] = 2;
  assertEquals(v.reset(b, 0, b.length), "ok");
  assertEquals([v.server_id, v.lease_time, ip(v.router)], [-1, -1, "10.0.0.254"]);
  // Without option 52 neither area is read.
  b[240 + 3] = 0; // 52 -> Pad, then 1, 3 read as subnet mask of length 3: bad
  assertEquals(v.reset(b, 0, b.length), "bad_option");
});

Deno.test("dhcp: repeated options concatenate (RFC 3396), across overload areas too", () => {
  const v = new DhcpView();
  // DNS split into two options of one address each, a domain split in three, a lease time
  // split 2 + 2 bytes, and a 300-byte private option 224 split 255 + 45.
  const big = Array.from({ length: 300 }, (_, i) => i & 255);
  const opts = [
    53,
    1,
    DHCPACK,
    6,
    4,
    1,
    1,
    1,
    1,
    15,
    2,
    0x77,
    0x65,
    51,
    2,
    0,
    0,
    52,
    1,
    1,
    224,
    255,
    ...big.slice(0, 255),
    6,
    4,
    8,
    8,
    8,
    8,
    15,
    3,
    0x66,
    0x74,
    0x2e,
  ];
  const b = build(opts, [
    51,
    2,
    0x0e,
    0x10,
    15,
    4,
    0x74,
    0x65,
    0x73,
    0x74,
    224,
    45,
    ...big.slice(255),
  ]);
  assertEquals(v.reset(b, 0, b.length), "ok");
  assertEquals(v.normalized, true);
  assertEquals([v.message_type, v.lease_time, v.dns_count, ip(v.dns(0)), ip(v.dns(1))], [
    DHCPACK,
    3600,
    2,
    "1.1.1.1",
    "8.8.8.8",
  ]);
  assertEquals(
    text(v.buf.subarray(v.domain_name_offset, v.domain_name_offset + v.domain_name_len)),
    "weft.test",
  );
  const at = v.option(224);
  assertEquals(v.option_len(224), 300);
  assertEquals(Array.from(v.buf.subarray(at, at + 300)), big);
  // The fixed fields read the same from the copy.
  assertEquals([v.xid, ip(v.yiaddr), v.op], [0x11223344, "10.0.0.5", 2]);
  // A split that sums to a wrong size is still wrong: type 53 twice is 2 bytes.
  const c = build([53, 1, DHCPACK, 53, 1, DHCPACK]);
  assertEquals(v.reset(c, 0, c.length), "bad_option");
  // The same view then reads an ordinary message in place again.
  const [f, o, n] = payload("dhcp_offer");
  assertEquals(v.reset(f, o, n), "ok");
  assertEquals([v.normalized, v.buf === f, v.option_len(DHCP_OPT_DOMAIN_NAME)], [false, true, 9]);
});
