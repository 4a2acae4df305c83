import { assert, assertEquals } from "@std/assert";
import {
  DNS_FLAG_AA,
  DNS_FLAG_QR,
  DNS_FLAG_RA,
  DNS_FLAG_RD,
  dns_name_reason,
  dns_name_skip,
  dns_name_text,
  DNS_RCODE_NXDOMAIN,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_PTR,
  DnsRecord,
  DnsView,
  emit_dns_query,
  parse_dns,
  write_dns_header,
  write_dns_name,
  write_dns_question,
  write_dns_rr_a,
  write_dns_rr_aaaa,
  write_dns_rr_name,
} from "./dns.ts";
import { format_ipv4, parse_ipv4, parse_ipv4_addr } from "./ipv4.ts";
import { parse_udp } from "./udp.ts";
import { frame, type FRAMES } from "./_captured.ts";

type Name = keyof typeof FRAMES;
const QUERIES: [Name, string, number][] = [
  ["dns_query_a", "www.weft.test", DNS_TYPE_A],
  ["dns_query_aaaa", "weft.test", DNS_TYPE_AAAA],
  ["dns_query_ptr", "80.0.56.10.in-addr.arpa", DNS_TYPE_PTR],
];
const RESPONSES: Name[] = [
  "dns_response_cname_a",
  "dns_response_aaaa",
  "dns_response_ptr",
  "dns_response_nxdomain",
];

/** The captured frame and its UDP payload bounds (checksums verified on the way). */
function payload(name: Name): [Uint8Array, number, number] {
  const f = frame(name);
  const ip = parse_ipv4(f, 14)!;
  const u = parse_udp(f, ip.payload_offset, ip.payload_len, ip.pseudo_sum())!;
  return [f, u.payload_offset, u.payload_len];
}

function dns(name: Name): DnsView {
  const [f, o, n] = payload(name);
  const v = new DnsView();
  assertEquals(v.reset(f, o, n), "ok", name);
  return v;
}

/** The records of `v` from its answer section on. */
function records(v: DnsView): DnsRecord[] {
  const out: DnsRecord[] = [];
  let at = v.answers_offset;
  for (let i = 0; i < v.ancount + v.nscount + v.arcount; i++) {
    const r = new DnsRecord();
    assertEquals(r.reset(v.buf, v.offset, v.offset + v.length, at), "ok");
    out.push(r);
    at = r.next;
  }
  assertEquals(at, v.end_offset);
  return out;
}

Deno.test("dns: captured glibc queries parse and re-emit byte-exact (RFC 1035 §4.1)", () => {
  for (const [name, qname, qtype] of QUERIES) {
    const v = dns(name);
    assertEquals([v.qr, v.opcode, v.rd, v.tc, v.z, v.rcode], [false, 0, true, false, 0, 0], name);
    assertEquals([v.qdcount, v.ancount, v.nscount, v.arcount], [1, 0, 0, 0]);
    assertEquals([v.qname(), v.qtype, v.qclass], [qname, qtype, 1]);
    assertEquals(v.end_offset, v.offset + v.length);
    const out = new Uint8Array(v.length);
    assertEquals(emit_dns_query(out, 0, v.id, qname, qtype), v.length);
    assertEquals(out, v.buf.subarray(v.offset, v.offset + v.length), name);
  }
});

Deno.test("dns: captured responses: CNAME + A through a pointer into rdata, AAAA, PTR, NXDOMAIN", () => {
  const c = dns("dns_response_cname_a");
  assertEquals([c.qr, c.aa, c.rd, c.ra, c.rcode, c.ancount], [true, true, true, true, 0, 2]);
  assertEquals(c.qname(), "www.weft.test");
  const [cname, a] = records(c);
  assertEquals([cname.type, cname.class, cname.ttl], [DNS_TYPE_CNAME, 1, 300]);
  assertEquals([cname.owner(), cname.target()], ["www.weft.test", "weft.test"]);
  assertEquals(c.buf.subarray(a.owner_offset, a.owner_offset + 2), new Uint8Array([0xc0, 0x2b]));
  assertEquals([a.type, a.owner(), format_ipv4(a.a)], [DNS_TYPE_A, "weft.test", "10.56.0.80"]);

  const [q] = records(dns("dns_response_aaaa"));
  assertEquals([q.type, q.rdlength, q.owner()], [DNS_TYPE_AAAA, 16, "weft.test"]);
  assertEquals(
    Array.from(q.buf.subarray(q.rdata_offset, q.rdata_offset + 16)),
    [0xfd, 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80],
  );
  const p = dns("dns_response_ptr");
  const [ptr] = records(p);
  assertEquals([ptr.type, ptr.owner(), ptr.target()], [
    DNS_TYPE_PTR,
    "80.0.56.10.in-addr.arpa",
    "weft.test",
  ]);
  const nx = dns("dns_response_nxdomain");
  assertEquals([nx.rcode, nx.ancount, nx.qname()], [DNS_RCODE_NXDOMAIN, 0, "nx.weft.test"]);
});

Deno.test("dns: captured responses re-emit byte-exact with the writers", () => {
  const flags = DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD | DNS_FLAG_RA;
  const check = (name: Name, build: (b: Uint8Array, v: DnsView) => number) => {
    const v = dns(name);
    const out = new Uint8Array(v.length + 4);
    assertEquals(build(out, v), v.length, name);
    assertEquals(out.subarray(0, v.length), v.buf.subarray(v.offset, v.offset + v.length), name);
  };
  check("dns_response_cname_a", (b, v) => {
    let o = write_dns_header(b, 0, v.id, flags, 1, 2, 0, 0);
    o += write_dns_question(b, o, "www.weft.test", DNS_TYPE_A);
    const cname_at = o;
    o += write_dns_rr_name(b, o, 12, DNS_TYPE_CNAME, 300, "weft.test");
    return o + write_dns_rr_a(b, o, cname_at + 12, 300, parse_ipv4_addr("10.56.0.80")!);
  });
  check("dns_response_aaaa", (b, v) => {
    let o = write_dns_header(b, 0, v.id, flags, 1, 1, 0, 0);
    o += write_dns_question(b, o, "weft.test", DNS_TYPE_AAAA);
    const a6 = new Uint8Array(16);
    a6.set([0xfd, 0x56]);
    a6[15] = 0x80;
    return o + write_dns_rr_aaaa(b, o, 12, 300, a6, 0);
  });
  check("dns_response_ptr", (b, v) => {
    let o = write_dns_header(b, 0, v.id, flags, 1, 1, 0, 0);
    o += write_dns_question(b, o, "80.0.56.10.in-addr.arpa.", DNS_TYPE_PTR);
    return o + write_dns_rr_name(b, o, 12, DNS_TYPE_PTR, 300, "weft.test");
  });
  check("dns_response_nxdomain", (b, v) => {
    const o = write_dns_header(b, 0, v.id, flags | DNS_RCODE_NXDOMAIN, 1, 0, 0, 0);
    return o + write_dns_question(b, o, "nx.weft.test", DNS_TYPE_A);
  });
});

Deno.test("dns: every truncation of every captured message is 'truncated'", () => {
  const v = new DnsView();
  for (const name of [...QUERIES.map((q) => q[0]), ...RESPONSES]) {
    const [f, off, len] = payload(name);
    for (let n = 0; n < len; n++) assertEquals(v.reset(f, off, n), "truncated", `${name} ${n}`);
    assertEquals(v.reset(f, off, len + 1), "truncated");
    assertEquals(v.reset(f, -1, len), "truncated");
    assertEquals(v.reset(f, off, len), "ok");
  }
});

/** A message: header with one question whose name is `name` bytes, then QTYPE/QCLASS. */
function msg(name: number[], an = 0, rest: number[] = []): Uint8Array {
  return new Uint8Array([0x12, 0x34, 1, 0, 0, 1, 0, an, 0, 0, 0, 0, ...name, 0, 1, 0, 1, ...rest]);
}

Deno.test("dns: compression pointer loops, bad pointers and labels give reasons, never hang", () => {
  const v = new DnsView();
  const r = (b: Uint8Array) => v.reset(b, 0, b.length);
  assertEquals(r(msg([0xc0, 12])), "pointer_loop"); // points at itself
  assertEquals(r(msg([0xc0, 14, 0xc0, 12])), "pointer_loop"); // two pointers, a cycle
  assertEquals(r(msg([1, 0x61, 0xc0, 12])), "name_too_long"); // a label then back: grows to 255
  assertEquals(r(msg([0xc0, 0xff])), "bad_pointer"); // outside the message
  assertEquals(r(msg([0xff, 0xff])), "bad_pointer");
  assertEquals(r(msg([0x40, 0x61, 0])), "bad_label"); // 0x40: reserved label type (§4.1.4)
  assertEquals(r(msg([0x80, 0])), "bad_label");
  assertEquals(r(msg([1, 0x61, 0])), "ok");
  // A loop in an answer's owner and in a CNAME's rdata.
  const q = [1, 0x61, 0];
  assertEquals(r(msg(q, 1, [0xc0, 19, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])), "pointer_loop");
  assertEquals(r(msg(q, 1, [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 0xc0, 31])), "pointer_loop");
  assertEquals(r(msg(q, 1, [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 0xc0, 12])), "ok");
  // RDATA that does not fit its type (§3.4.1, RFC 3596 §2.2), a CNAME name longer than RDLENGTH.
  assertEquals(r(msg(q, 1, [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3])), "bad_rdata");
  assertEquals(r(msg(q, 1, [0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])), "bad_rdata");
  assertEquals(r(msg(q, 1, [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0x62, 0])), "bad_rdata");
  // The low-level name functions agree.
  const b = msg([0xc0, 12]);
  const code = dns_name_skip(b, 0, b.length, 12);
  assert(code < 0);
  assertEquals(dns_name_reason(code), "pointer_loop");
  assertEquals(dns_name_text(b, 0, b.length, 12), undefined);
  // A name of exactly 255 bytes is fine, 256 is not (§3.1).
  const long = (n: number) => {
    const labels: number[] = [];
    for (let left = n - 1; left > 0;) {
      const l = Math.min(63, left - 1);
      labels.push(l, ...new Array(l).fill(0x61));
      left -= l + 1;
    }
    return [...labels, 0];
  };
  assertEquals(r(msg(long(255))), "ok");
  assertEquals(r(msg(long(256))), "name_too_long");
});

Deno.test("dns: name writer limits (RFC 1035 §2.3.4) and round trip", () => {
  const b = new Uint8Array(300);
  assertEquals(write_dns_name(b, 0, ""), 1);
  assertEquals(write_dns_name(b, 0, "."), 1);
  assertEquals(b[0], 0);
  assertEquals(write_dns_name(b, 0, "a.b."), 5);
  assertEquals(Array.from(b.subarray(0, 5)), [1, 0x61, 1, 0x62, 0]);
  assertEquals(write_dns_name(b, 0, "a..b"), -1);
  assertEquals(write_dns_name(b, 0, ".a"), -1);
  assertEquals(write_dns_name(b, 0, "x".repeat(63)), 65);
  assertEquals(write_dns_name(b, 0, "x".repeat(64)), -1);
  assertEquals(write_dns_name(b, 0, "é"), 3); // Latin-1 bytes as they are
  assertEquals(write_dns_name(b, 0, "☃"), -1);
  const name253 = Array(4).fill("y".repeat(62)).join(".") + ".z";
  assertEquals(write_dns_name(b, 0, name253), 255);
  assertEquals(write_dns_name(b, 0, name253 + "z"), -1);
  assertEquals(emit_dns_query(b, 0, 7, "a..b", DNS_TYPE_A), -1);
  const n = emit_dns_query(b, 0, 0xbeef, "Example.ORG", DNS_TYPE_AAAA, false);
  const v = parse_dns(b, 0, n)!;
  assertEquals([v.id, v.rd, v.qname(), v.qtype], [0xbeef, false, "Example.ORG", DNS_TYPE_AAAA]);
});
