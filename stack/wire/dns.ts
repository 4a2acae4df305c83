/**
 * DNS messages (RFC 1035 §4.1): header, questions and resource records, with name compression
 * (§4.1.4).
 *
 * ```
 * |                              ID                               |
 * |QR|  Opcode   |AA|TC|RD|RA|   Z    |   RCODE   |    QDCOUNT    |
 * |    ANCOUNT    |    NSCOUNT    |    ARCOUNT    | (16 bits each) |
 * | Question: QNAME, QTYPE, QCLASS | Answer / Authority / Additional RRs:
 * | NAME, TYPE, CLASS, TTL (32), RDLENGTH, RDATA |
 * ```
 *
 * `reset` takes the UDP payload and walks every name and record once (no allocation), checking
 * that names are well formed: labels of at most 63 bytes (§2.3.4), no 0x40/0x80 label types,
 * compression pointers inside the message, at most 255 bytes in all (§3.1), and no pointer loop
 * (a name may follow at most 127 pointers; a loop is "pointer_loop", never a hang). A, AAAA,
 * CNAME, NS and PTR rdata are checked against their type (§3.4.1, RFC 3596 §2.2, §3.3.1, §3.3.11,
 * §3.3.12). Section offsets are cached; walk the records with a `DnsRecord` cursor.
 *
 * Writers: `write_dns_header`, `write_dns_name`, `write_dns_question`, `write_dns_rr_*` for
 * simple answers whose owner is a compression pointer, and `emit_dns_query`.
 */

import { ipv4_at, write_ipv4 } from "./ipv4.ts";

export const DNS_PORT = 53;
export const DNS_HEADER_LEN = 12;
/** §3.1: a name is at most 255 bytes on the wire. */
export const DNS_MAX_NAME_LEN = 255;
/** §2.3.4 */
export const DNS_MAX_LABEL_LEN = 63;
/** Pointers followed while reading one name before it is called a loop. */
export const DNS_MAX_POINTERS = 127;

export const DNS_TYPE_A = 1;
export const DNS_TYPE_NS = 2;
export const DNS_TYPE_CNAME = 5;
export const DNS_TYPE_SOA = 6;
export const DNS_TYPE_PTR = 12;
export const DNS_TYPE_MX = 15;
export const DNS_TYPE_TXT = 16;
export const DNS_TYPE_AAAA = 28;
export const DNS_TYPE_OPT = 41;
export const DNS_CLASS_IN = 1;

/** Header flag bits (§4.1.1). */
export const DNS_FLAG_QR = 0x8000;
export const DNS_FLAG_AA = 0x0400;
export const DNS_FLAG_TC = 0x0200;
export const DNS_FLAG_RD = 0x0100;
export const DNS_FLAG_RA = 0x0080;
export const DNS_RCODE_NOERROR = 0;
export const DNS_RCODE_FORMERR = 1;
export const DNS_RCODE_SERVFAIL = 2;
export const DNS_RCODE_NXDOMAIN = 3;

/**
 * "truncated": the header, a question or a record runs past the message; "bad_label": a label
 * type 0x40/0x80 (§4.1.4 reserves them); "bad_pointer": a compression pointer outside the
 * message; "pointer_loop": too many pointers; "name_too_long": over 255 bytes; "bad_rdata":
 * RDATA that does not fit its type, or RDLENGTH past the message.
 */
export type DnsReason =
  | "ok"
  | "truncated"
  | "bad_label"
  | "bad_pointer"
  | "pointer_loop"
  | "name_too_long"
  | "bad_rdata";

const NAME_REASONS: DnsReason[] = [
  "ok",
  "truncated",
  "bad_label",
  "bad_pointer",
  "pointer_loop",
  "name_too_long",
];

/**
 * Check the name at `at` in the message `buf[base, end)`. Returns the offset just after it where
 * it is written (after its zero label or its first pointer), or a negative code: -1 truncated,
 * -2 bad label type, -3 a pointer outside the message (or to labels running past its end),
 * -4 pointer loop, -5 over 255 bytes.
 */
export function dns_name_skip(buf: Uint8Array, base: number, end: number, at: number): number {
  let o = at, after = -1, total = 0, jumps = 0;
  for (;;) {
    if (o < base || o >= end) return after < 0 ? -1 : -3;
    const l = buf[o];
    if (l === 0) {
      if (total + 1 > DNS_MAX_NAME_LEN) return -5;
      return after < 0 ? o + 1 : after;
    }
    const kind = l & 0xc0;
    if (kind === 0xc0) {
      if (o + 2 > end) return -1;
      if (after < 0) after = o + 2;
      if (++jumps > DNS_MAX_POINTERS) return -4;
      const p = base + (((l & 0x3f) << 8) | buf[o + 1]);
      if (p >= end) return -3;
      o = p;
      continue;
    }
    if (kind !== 0) return -2;
    total += 1 + l;
    if (total + 1 > DNS_MAX_NAME_LEN) return -5;
    if (o + 1 + l > end) return after < 0 ? -1 : -3;
    o += 1 + l;
  }
}

/** The reason for a negative `dns_name_skip` result. */
export function dns_name_reason(code: number): DnsReason {
  return code >= 0 ? "ok" : NAME_REASONS[-code];
}

/**
 * The dotted text of the name at `at` (no trailing dot; "" for the root), or undefined when it is
 * malformed. Allocates: for logs and tests, not the hot path.
 */
export function dns_name_text(
  buf: Uint8Array,
  base: number,
  end: number,
  at: number,
): string | undefined {
  if (dns_name_skip(buf, base, end, at) < 0) return undefined;
  let s = "", o = at;
  for (;;) {
    const l = buf[o];
    if (l === 0) return s;
    if ((l & 0xc0) === 0xc0) {
      o = base + (((l & 0x3f) << 8) | buf[o + 1]);
      continue;
    }
    if (s.length > 0) s += ".";
    for (let i = 1; i <= l; i++) s += String.fromCharCode(buf[o + i]);
    o += 1 + l;
  }
}

/** A view of a DNS message (a UDP payload). Reusable through `reset`. */
export class DnsView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;
  length = 0;
  /** Offsets in `buf` of the first question and of the first record of each section. */
  questions_offset = 0;
  answers_offset = 0;
  authority_offset = 0;
  additional_offset = 0;
  /** Offset just after the last record. */
  end_offset = 0;
  private rr = new DnsRecord();

  /** Validate the DNS message in `buf[offset, offset + length)`, every name and record. */
  reset(buf: Uint8Array, offset: number, length: number): DnsReason {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.questions_offset = this.answers_offset = this.authority_offset = 0;
    this.additional_offset = this.end_offset = 0;
    if (offset < 0 || length < DNS_HEADER_LEN || offset + length > buf.length) return "truncated";
    const end = offset + length;
    let o = offset + DNS_HEADER_LEN;
    this.questions_offset = o;
    for (let i = this.qdcount; i > 0; i--) {
      const n = dns_name_skip(buf, offset, end, o);
      if (n < 0) return NAME_REASONS[-n];
      if (n + 4 > end) return "truncated";
      o = n + 4;
    }
    const rr = this.rr;
    for (let s = 0; s < 3; s++) {
      if (s === 0) this.answers_offset = o;
      else if (s === 1) this.authority_offset = o;
      else this.additional_offset = o;
      for (let i = s === 0 ? this.ancount : s === 1 ? this.nscount : this.arcount; i > 0; i--) {
        const r = rr.reset(buf, offset, end, o);
        if (r !== "ok") return r;
        o = rr.next;
      }
    }
    this.end_offset = o;
    return "ok";
  }

  get id(): number {
    return (this.buf[this.offset] << 8) | this.buf[this.offset + 1];
  }
  /** The 16 flag bits (QR, Opcode, AA, TC, RD, RA, Z, RCODE). */
  get flags(): number {
    return (this.buf[this.offset + 2] << 8) | this.buf[this.offset + 3];
  }
  get qr(): boolean {
    return (this.flags & DNS_FLAG_QR) !== 0;
  }
  get opcode(): number {
    return (this.flags >>> 11) & 0xf;
  }
  get aa(): boolean {
    return (this.flags & DNS_FLAG_AA) !== 0;
  }
  get tc(): boolean {
    return (this.flags & DNS_FLAG_TC) !== 0;
  }
  get rd(): boolean {
    return (this.flags & DNS_FLAG_RD) !== 0;
  }
  get ra(): boolean {
    return (this.flags & DNS_FLAG_RA) !== 0;
  }
  /** Z: 3 bits (AD and CD in RFC 4035 §3.2). */
  get z(): number {
    return (this.flags >>> 4) & 7;
  }
  get rcode(): number {
    return this.flags & 0xf;
  }
  get qdcount(): number {
    return (this.buf[this.offset + 4] << 8) | this.buf[this.offset + 5];
  }
  get ancount(): number {
    return (this.buf[this.offset + 6] << 8) | this.buf[this.offset + 7];
  }
  get nscount(): number {
    return (this.buf[this.offset + 8] << 8) | this.buf[this.offset + 9];
  }
  get arcount(): number {
    return (this.buf[this.offset + 10] << 8) | this.buf[this.offset + 11];
  }
  /** QTYPE of the first question (valid when qdcount > 0). */
  get qtype(): number {
    const n = dns_name_skip(
      this.buf,
      this.offset,
      this.offset + this.length,
      this.questions_offset,
    );
    return (this.buf[n] << 8) | this.buf[n + 1];
  }
  /** QCLASS of the first question (valid when qdcount > 0). */
  get qclass(): number {
    const n = dns_name_skip(
      this.buf,
      this.offset,
      this.offset + this.length,
      this.questions_offset,
    );
    return (this.buf[n + 2] << 8) | this.buf[n + 3];
  }
  /** The first question's name as text (allocates). */
  qname(): string | undefined {
    return dns_name_text(this.buf, this.offset, this.offset + this.length, this.questions_offset);
  }
}

/**
 * A cursor over one resource record (§4.1.3). `reset(buf, base, end, at)` with the message at
 * `buf[base, end)`; then `next` is where the following record starts.
 */
export class DnsRecord {
  buf: Uint8Array = new Uint8Array(0);
  base = 0;
  end = 0;
  name_offset = 0;
  type = 0;
  class = 0;
  ttl = 0;
  rdlength = 0;
  rdata_offset = 0;
  next = 0;

  reset(buf: Uint8Array, base: number, end: number, at: number): DnsReason {
    this.buf = buf;
    this.base = base;
    this.end = end;
    this.name_offset = at;
    this.type =
      this.class =
      this.ttl =
      this.rdlength =
      this.rdata_offset =
      this.next =
        0;
    if (base < 0 || end > buf.length) return "truncated";
    const n = dns_name_skip(buf, base, end, at);
    if (n < 0) return NAME_REASONS[-n];
    if (n + 10 > end) return "truncated";
    this.type = (buf[n] << 8) | buf[n + 1];
    this.class = (buf[n + 2] << 8) | buf[n + 3];
    this.ttl = ipv4_at(buf, n + 4);
    const rl = (buf[n + 8] << 8) | buf[n + 9];
    this.rdlength = rl;
    this.rdata_offset = n + 10;
    if (n + 10 + rl > end) return "truncated";
    this.next = n + 10 + rl;
    switch (this.type) {
      case DNS_TYPE_A:
        if (rl !== 4) return "bad_rdata";
        break;
      case DNS_TYPE_AAAA:
        if (rl !== 16) return "bad_rdata";
        break;
      case DNS_TYPE_CNAME:
      case DNS_TYPE_NS:
      case DNS_TYPE_PTR: {
        // The rdata is one name that fills it exactly; its pointers may point anywhere.
        const t = dns_name_skip(buf, base, end, n + 10);
        if (t < 0) return t === -1 ? "bad_rdata" : NAME_REASONS[-t];
        if (t !== this.next) return "bad_rdata";
        break;
      }
    }
    return "ok";
  }

  /** Offset of the record's owner name. */
  get owner_offset(): number {
    return this.name_offset;
  }
  /** The A address (uint32; type A only). */
  get a(): number {
    return ipv4_at(this.buf, this.rdata_offset);
  }
  /** The owner name as text (allocates). */
  owner(): string | undefined {
    return dns_name_text(this.buf, this.base, this.end, this.name_offset);
  }
  /** The CNAME/NS/PTR target as text (allocates). */
  target(): string | undefined {
    return dns_name_text(this.buf, this.base, this.end, this.rdata_offset);
  }
}

export function parse_dns(buf: Uint8Array, offset: number, length: number): DnsView | undefined {
  const v = new DnsView();
  return v.reset(buf, offset, length) === "ok" ? v : undefined;
}

/** Write the 12-byte header (§4.1.1) at `o`. Returns 12. */
export function write_dns_header(
  b: Uint8Array,
  o: number,
  id: number,
  flags: number,
  qdcount: number,
  ancount: number,
  nscount: number,
  arcount: number,
): number {
  b[o] = id >>> 8;
  b[o + 1] = id;
  b[o + 2] = flags >>> 8;
  b[o + 3] = flags;
  b[o + 4] = qdcount >>> 8;
  b[o + 5] = qdcount;
  b[o + 6] = ancount >>> 8;
  b[o + 7] = ancount;
  b[o + 8] = nscount >>> 8;
  b[o + 9] = nscount;
  b[o + 10] = arcount >>> 8;
  b[o + 11] = arcount;
  return DNS_HEADER_LEN;
}

/**
 * Write the dotted `name` uncompressed (a trailing dot is allowed; "" or "." is the root).
 * Returns the bytes written, or -1 (nothing meaningful written) for an empty label, a label over
 * 63 bytes, a name over 255 bytes, or a character above 0xff.
 */
export function write_dns_name(b: Uint8Array, o: number, name: string): number {
  const n = name.endsWith(".") ? name.length - 1 : name.length;
  if (n + 2 > DNS_MAX_NAME_LEN + (n === 0 ? 1 : 0)) return -1;
  let len_at = o, w = o + 1;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      const l = w - len_at - 1;
      if (l === 0 || l > DNS_MAX_LABEL_LEN) return -1;
      b[len_at] = l;
      len_at = w++;
      continue;
    }
    if (c > 0xff) return -1;
    b[w++] = c;
  }
  const l = w - len_at - 1;
  if (n > 0 && (l === 0 || l > DNS_MAX_LABEL_LEN)) return -1;
  if (n === 0) {
    b[o] = 0;
    return 1;
  }
  b[len_at] = l;
  b[w++] = 0;
  return w - o;
}

/** Write a question (§4.1.2). Returns its length, or -1 for a bad name. */
export function write_dns_question(
  b: Uint8Array,
  o: number,
  name: string,
  qtype: number,
  qclass = DNS_CLASS_IN,
): number {
  const n = write_dns_name(b, o, name);
  if (n < 0) return -1;
  b[o + n] = qtype >>> 8;
  b[o + n + 1] = qtype;
  b[o + n + 2] = qclass >>> 8;
  b[o + n + 3] = qclass;
  return n + 4;
}

/**
 * Write a record's owner as a compression pointer to `owner` (an offset from the message start,
 * below 0x4000), then TYPE, CLASS IN, TTL, RDLENGTH (§4.1.3). Returns 12; rdata follows.
 */
export function write_dns_rr_header(
  b: Uint8Array,
  o: number,
  owner: number,
  type: number,
  ttl: number,
  rdlength: number,
): number {
  b[o] = 0xc0 | (owner >>> 8);
  b[o + 1] = owner;
  b[o + 2] = type >>> 8;
  b[o + 3] = type;
  b[o + 4] = 0;
  b[o + 5] = DNS_CLASS_IN;
  write_ipv4(b, o + 6, ttl);
  b[o + 10] = rdlength >>> 8;
  b[o + 11] = rdlength;
  return 12;
}

/** Write an A record (owner a pointer) for the uint32 `addr`. Returns 16. */
export function write_dns_rr_a(
  b: Uint8Array,
  o: number,
  owner: number,
  ttl: number,
  addr: number,
): number {
  write_dns_rr_header(b, o, owner, DNS_TYPE_A, ttl, 4);
  write_ipv4(b, o + 12, addr);
  return 16;
}

/** Write an AAAA record (owner a pointer) with the 16 bytes `src[at, at + 16)`. Returns 28. */
export function write_dns_rr_aaaa(
  b: Uint8Array,
  o: number,
  owner: number,
  ttl: number,
  src: Uint8Array,
  at: number,
): number {
  write_dns_rr_header(b, o, owner, DNS_TYPE_AAAA, ttl, 16);
  b.set(src.subarray(at, at + 16), o + 12);
  return 28;
}

/**
 * Write a CNAME, NS or PTR record (owner a pointer) whose target `name` is written uncompressed.
 * Returns its length, or -1 for a bad name.
 */
export function write_dns_rr_name(
  b: Uint8Array,
  o: number,
  owner: number,
  type: number,
  ttl: number,
  name: string,
): number {
  const n = write_dns_name(b, o + 12, name);
  if (n < 0) return -1;
  write_dns_rr_header(b, o, owner, type, ttl, n);
  return 12 + n;
}

/** Write a one-question query (RD set when `rd`, as stub resolvers send). Returns its length or -1. */
export function emit_dns_query(
  b: Uint8Array,
  o: number,
  id: number,
  name: string,
  qtype: number,
  rd = true,
): number {
  write_dns_header(b, o, id, rd ? DNS_FLAG_RD : 0, 1, 0, 0, 0);
  const q = write_dns_question(b, o + DNS_HEADER_LEN, name, qtype);
  return q < 0 ? -1 : DNS_HEADER_LEN + q;
}
