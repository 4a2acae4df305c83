import { assert, assertEquals } from "@std/assert";
import {
  emit_tcp,
  parse_tcp,
  TCP_ACK,
  tcp_fill_checksum,
  tcp_options_len,
  TCP_SYN,
  type TcpFields,
  TcpView,
} from "./tcp.ts";
import { parse_ipv4 } from "./ipv4.ts";
import { parse_ipv6 } from "./ipv6.ts";
import { frame, type FRAMES } from "./_captured.ts";

type Name = keyof typeof FRAMES;

function tcp_of(f: Uint8Array): { v: TcpView; ps: number } {
  const v = new TcpView();
  if (f[12] === 0x08) {
    const ip = parse_ipv4(f, 14)!;
    assertEquals(v.reset(f, ip.payload_offset, ip.payload_len, ip.pseudo_sum()), "ok");
    return { v, ps: ip.pseudo_sum() };
  }
  const ip = parse_ipv6(f, 14)!;
  assertEquals(v.reset(f, ip.upper_offset, ip.upper_len, ip.pseudo_sum()), "ok");
  return { v, ps: ip.pseudo_sum() };
}

function fields_of(v: TcpView): TcpFields {
  const blocks: number[] = [];
  for (let i = 0; i < v.sack_count; i++) blocks.push(v.sack_left(i), v.sack_right(i));
  return {
    src_port: v.src_port,
    dst_port: v.dst_port,
    seq_number: v.seq_number,
    ack_number: v.ack_number,
    flags: v.flags,
    window: v.window,
    urgent_pointer: v.urgent_pointer,
    mss: v.mss,
    window_scale: v.window_scale,
    sack_permitted: v.sack_permitted,
    ts_val: v.has_timestamps ? v.ts_val : undefined,
    ts_ecr: v.ts_ecr,
    sack_blocks: blocks,
    sack_count: v.sack_count,
  };
}

Deno.test("tcp: curl's SYN (Linux) parses MSS, SACK-permitted, timestamps, window scale", () => {
  const { v } = tcp_of(frame("tcp4_syn"));
  assertEquals([v.dst_port, v.flags, v.seq_number, v.ack_number, v.window], [
    8080,
    TCP_SYN,
    2680666649,
    0,
    64240,
  ]);
  assertEquals([v.data_offset, v.header_len, v.payload_len], [10, 40, 0]);
  assertEquals([v.mss, v.sack_permitted, v.window_scale], [1460, true, 10]);
  assertEquals([v.has_timestamps, v.ts_val, v.ts_ecr, v.sack_count], [true, 93730575, 0, 0]);
  const { v: sa } = tcp_of(frame("tcp4_synack"));
  assertEquals([sa.flags, sa.ack_number, sa.ts_val, sa.ts_ecr], [
    TCP_SYN | TCP_ACK,
    2680666650,
    2394421055,
    93730575,
  ]);
  const { v: s6 } = tcp_of(frame("tcp6_syn"));
  assertEquals([s6.mss, s6.window_scale, s6.window, s6.ts_val], [1440, 10, 64800, 3785461259]);
});

Deno.test("tcp: the kernel's duplicate ACK with two SACK blocks (RFC 2018)", () => {
  const { v } = tcp_of(frame("tcp_sack2"));
  assertEquals([v.flags, v.ack_number, v.sack_count, v.has_timestamps], [TCP_ACK, 1001, 2, false]);
  assertEquals([v.sack_left(0), v.sack_right(0), v.sack_left(1), v.sack_right(1)], [
    1301,
    1401,
    1101,
    1201,
  ]);
});

Deno.test("tcp: a SYN with options in a non-Linux order (a raw python3 peer) parses", () => {
  const { v } = tcp_of(frame("tcp_syn_raw"));
  assertEquals([v.mss, v.sack_permitted, v.window_scale, v.has_timestamps], [1460, true, 7, false]);
  assertEquals([v.src_port, v.seq_number], [40000, 1000]);
});

Deno.test("tcp: Linux segments re-emit byte-exact (options, padding, checksum)", () => {
  const names: Name[] = [
    "tcp4_syn",
    "tcp4_synack",
    "tcp4_ack",
    "tcp6_syn",
    "tcp6_synack",
    "tcp_sack2",
  ];
  for (const name of names) {
    const f = frame(name);
    const { v, ps } = tcp_of(f);
    const out = f.slice();
    out.fill(0, v.offset, v.offset + v.header_len);
    const fields = fields_of(v);
    assertEquals(tcp_options_len(fields), v.header_len - 20, name);
    assertEquals(emit_tcp(out, v.offset, fields, v.payload_len, ps), v.header_len, name);
    assertEquals(out, f, name);
  }
});

Deno.test("tcp: emit → parse round trip with timestamps and 3 SACK blocks", () => {
  const b = new Uint8Array(60);
  const f: TcpFields = {
    src_port: 1,
    dst_port: 2,
    seq_number: 0xfffffff0,
    ack_number: 7,
    flags: TCP_ACK,
    window: 1000,
    ts_val: 0xdeadbeef,
    ts_ecr: 1,
    sack_blocks: [10, 20, 30, 40, 0xffffff00, 5],
    sack_count: 3,
  };
  const hl = emit_tcp(b, 0, f, 0, 1234);
  assertEquals(hl, 20 + 12 + 28);
  const v = parse_tcp(b, 0, hl, 1234)!;
  assertEquals([v.seq_number, v.ts_val, v.ts_ecr, v.sack_count, v.sack_left(2), v.sack_right(2)], [
    0xfffffff0,
    0xdeadbeef,
    1,
    3,
    0xffffff00,
    5,
  ]);
});

Deno.test("tcp: malformed segments are refused with a reason", () => {
  const base = () => {
    const f = frame("tcp4_syn");
    const ip = parse_ipv4(f, 14)!;
    return { f, o: ip.payload_offset, len: ip.payload_len, ps: ip.pseudo_sum() };
  };
  const v = new TcpView();
  let { f, o, len, ps } = base();
  for (let n = 0; n < len; n++) assertEquals(v.reset(f, o, n, -1), "truncated", `${n}`);
  f[o + 12] = 0x40; // Data Offset 4
  assertEquals(v.reset(f, o, len, -1), "bad_data_offset");
  const bad_opt = (i: number, x: number) => {
    ({ f, o, len, ps } = base());
    f[o + i] = x;
    return v.reset(f, o, len, -1);
  };
  assertEquals(bad_opt(21, 3), "bad_option"); // MSS of length 3
  assertEquals(bad_opt(21, 1), "bad_option"); // option length below 2
  assertEquals(bad_opt(38, 4), "bad_option"); // WS length running past the header
  assertEquals(bad_opt(27, 8), "bad_option"); // timestamps of length 8
  assertEquals(bad_opt(20, 0x55), "ok"); // unknown kind 0x55 (len 4): skipped
  ({ f, o, len, ps } = base());
  f[o + 4] ^= 0x80;
  assertEquals(v.reset(f, o, len, ps), "bad_checksum");
  tcp_fill_checksum(f, o, len, ps);
  assertEquals(v.reset(f, o, len, ps), "ok");
  // A SACK-permitted option of length 3 is refused too.
  assertEquals(bad_opt(25, 3), "bad_option");
  // EOL ends the option list: what follows is not read.
  ({ f, o, len, ps } = base());
  f[o + 20] = 0;
  assert(v.reset(f, o, len, -1) === "ok" && v.mss === -1 && !v.has_timestamps);
});
