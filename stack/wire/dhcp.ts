/**
 * DHCPv4 messages (RFC 2131 §2, §3) and the options of RFC 2132 that a client and a small server
 * need.
 *
 * ```
 * |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
 * |                            xid (4)                            |
 * |           secs (2)            |           flags (2)           |
 * |        ciaddr (4)  yiaddr (4)  siaddr (4)  giaddr (4)         |
 * |   chaddr (16)  |  sname (64)  |  file (128)  | magic cookie   |
 * |                       options (variable)                      |
 * ```
 *
 * `reset` takes the UDP payload, checks the fixed part and the magic cookie (RFC 2131 §3), walks
 * the options once (RFC 2132 §2: Pad and End are one byte, the others code, length, value),
 * indexes them by code (`option(code)` / `option_len(code)`, no search) and decodes the ones below.
 * A known option of the wrong size, or any option running past its area, is "bad_option". Option
 * overload (RFC 2132 §9.3, RFC 2131 §4.1) is followed: after the options field come `file` (52 =
 * 1 or 3) and then `sname` (2 or 3), each ending at its End or its own end. A repeated option is
 * one value, its pieces concatenated in that order (RFC 3396 §5): only then does the view copy
 * the message into a buffer of its own (`normalized`); the usual message is read in place. Options
 * with no End are accepted up to the end of the payload.
 *
 * Writers: `write_dhcp_header` (fixed part + cookie), `write_dhcp_option_*` (one option each,
 * returning the bytes written) and `write_dhcp_end` (End, then zero padding to the 300-byte
 * BOOTP minimum, RFC 1542 §2.1, as clients and servers send it).
 */

import { ipv4_at, write_ipv4 } from "./ipv4.ts";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** op (RFC 2131 §2). */
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** The fixed BOOTP fields, before the magic cookie (RFC 2131 §2). */
export const DHCP_FIXED_LEN = 236;
/** Fixed fields + magic cookie: where the options start. */
export const DHCP_OPTIONS_OFFSET = 240;
/** 99.130.83.99 (RFC 2131 §3). */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** The smallest BOOTP message relays must accept (RFC 1542 §2.1); senders pad to it. */
export const DHCP_MIN_LEN = 300;
/** The broadcast bit of `flags` (RFC 2131 §2, figure 2). */
export const DHCP_FLAG_BROADCAST = 0x8000;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

/** Option codes (RFC 2132). */
export const DHCP_OPT_PAD = 0; // §3.1
export const DHCP_OPT_SUBNET_MASK = 1; // §3.3
export const DHCP_OPT_ROUTER = 3; // §3.5
export const DHCP_OPT_DNS = 6; // §3.8
export const DHCP_OPT_HOST_NAME = 12; // §3.14
export const DHCP_OPT_DOMAIN_NAME = 15; // §3.17
export const DHCP_OPT_INTERFACE_MTU = 26; // §5.1
export const DHCP_OPT_REQUESTED_IP = 50; // §9.1
export const DHCP_OPT_LEASE_TIME = 51; // §9.2
export const DHCP_OPT_OVERLOAD = 52; // §9.3
export const DHCP_OPT_MESSAGE_TYPE = 53; // §9.6
export const DHCP_OPT_SERVER_ID = 54; // §9.7
export const DHCP_OPT_PARAMETER_REQUEST_LIST = 55; // §9.8
export const DHCP_OPT_MAX_MESSAGE_SIZE = 57; // §9.10
export const DHCP_OPT_RENEWAL_TIME = 58; // §9.11 (T1)
export const DHCP_OPT_REBINDING_TIME = 59; // §9.12 (T2)
export const DHCP_OPT_VENDOR_CLASS_ID = 60; // §9.13
export const DHCP_OPT_CLIENT_ID = 61; // §9.14
export const DHCP_OPT_END = 255; // §3.2

/**
 * "truncated": shorter than the fixed part + cookie; "bad_cookie": no magic cookie (plain BOOTP);
 * "bad_hlen": hlen above 16 (chaddr is 16 bytes); "bad_option": an option cut off or of the wrong
 * size; "option_overload": option 52 with a value other than 1, 2 or 3 (RFC 2132 §9.3).
 */
export type DhcpReason =
  | "ok"
  | "truncated"
  | "bad_cookie"
  | "bad_hlen"
  | "bad_option"
  | "option_overload";

/** A view of a DHCP message (a UDP payload). Reusable through `reset`. */
export class DhcpView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;
  length = 0;
  /** Offset of the End option in `buf`, or the end of the message when there is none. */
  options_end = 0;
  /** Option 53, or -1. */
  message_type = -1;
  /** Option 50 (uint32 address), or -1. */
  requested_ip = -1;
  /** Option 54, or -1. */
  server_id = -1;
  /** Option 51 in seconds (0xffffffff = infinite), or -1. */
  lease_time = -1;
  /** Option 58 (T1) in seconds, or -1. */
  renewal_time = -1;
  /** Option 59 (T2) in seconds, or -1. */
  rebinding_time = -1;
  /** Option 1, or -1. */
  subnet_mask = -1;
  /** The first address of option 3, or -1; all of them are `router_count` at `router_offset`. */
  router = -1;
  router_count = 0;
  router_offset = -1;
  /** Option 6: `dns_count` addresses at `dns_offset`. */
  dns_count = 0;
  dns_offset = -1;
  /** Option 15: `domain_name_len` bytes at `domain_name_offset`. */
  domain_name_offset = -1;
  domain_name_len = 0;
  /** Option 26 (at least 68, RFC 2132 §5.1), or -1. */
  interface_mtu = -1;
  /** Option 57 (at least 576, RFC 2132 §9.10), or -1. */
  max_message_size = -1;
  /** Option 61: type byte then identifier, `client_id_len` bytes at `client_id_offset`. */
  client_id_offset = -1;
  client_id_len = 0;
  /** Option 55: `parameter_request_len` option codes at `parameter_request_offset`. */
  parameter_request_offset = -1;
  parameter_request_len = 0;

  /** Option 52 (RFC 2132 §9.3): 1 = `file` holds options, 2 = `sname`, 3 = both; 0 when absent. */
  overload = 0;
  /**
   * True when a repeated option was concatenated (RFC 3396): `buf` is then this view's own copy
   * of the fixed fields followed by each option once, its whole value contiguous.
   */
  normalized = false;

  // Index by option code, rebuilt by each `reset`: the value offset in `buf` and its length. Only
  // the codes listed in `#seen` are live, so clearing costs one store per option, not 256.
  #off = new Int32Array(256);
  #len = new Int32Array(256);
  #count = new Uint8Array(256);
  #seen = new Uint8Array(256);
  #nseen = 0;
  // Holds the normalized message when an option repeats (RFC 3396); grown on demand, then kept.
  #own = new Uint8Array(0);

  /** Validate the DHCP message in `buf[offset, offset + length)` (the UDP payload). */
  reset(buf: Uint8Array, offset: number, length: number): DhcpReason {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.options_end = 0;
    this.overload = 0;
    this.normalized = false;
    this.message_type =
      this.requested_ip =
      this.server_id =
      this.lease_time =
        -1;
    this.renewal_time =
      this.rebinding_time =
      this.subnet_mask =
      this.router =
        -1;
    this.router_offset =
      this.dns_offset =
      this.domain_name_offset =
      this.interface_mtu =
        -1;
    this.max_message_size = this.client_id_offset = this.parameter_request_offset = -1;
    this.router_count = this.dns_count = this.domain_name_len = 0;
    this.client_id_len = this.parameter_request_len = 0;
    for (let i = 0; i < this.#nseen; i++) this.#count[this.#seen[i]] = 0;
    this.#nseen = 0;
    if (offset < 0 || length < DHCP_OPTIONS_OFFSET || offset + length > buf.length) {
      return "truncated";
    }
    if (ipv4_at(buf, offset + DHCP_FIXED_LEN) !== DHCP_MAGIC_COOKIE) return "bad_cookie";
    if (buf[offset + 2] > 16) return "bad_hlen";
    // RFC 2131 §4.1: the options field first; option 52 there says whether `file` and then
    // `sname` continue it. Each area ends at its End option or its own end.
    let o = this.#walk(buf, offset + DHCP_OPTIONS_OFFSET, offset + length);
    if (o < 0) return "bad_option";
    this.options_end = o;
    let repeated = false;
    for (let i = 0; i < this.#nseen; i++) if (this.#count[this.#seen[i]] > 1) repeated = true;
    if (this.#count[DHCP_OPT_OVERLOAD] !== 0) {
      if (this.#len[DHCP_OPT_OVERLOAD] !== 1) return "bad_option";
      const ov = buf[this.#off[DHCP_OPT_OVERLOAD]];
      if (ov < 1 || ov > 3) return "option_overload";
      this.overload = ov;
      if (ov & 1) {
        o = this.#walk(buf, offset + 108, offset + 236);
        if (o < 0) return "bad_option";
      }
      if (ov & 2) {
        o = this.#walk(buf, offset + 44, offset + 108);
        if (o < 0) return "bad_option";
      }
      for (let i = 0; i < this.#nseen; i++) if (this.#count[this.#seen[i]] > 1) repeated = true;
    }
    if (repeated) this.#normalize();
    return this.#decode();
  }

  /**
   * Index the options in `buf[o, end)` up to End; returns where the walk stopped (the End option,
   * or `end`), or -1 when an option runs past `end`. A repeated code keeps its first offset and
   * adds to its count; `#normalize` joins the pieces.
   */
  #walk(buf: Uint8Array, o: number, end: number): number {
    while (o < end) {
      const code = buf[o];
      if (code === DHCP_OPT_END) return o;
      if (code === DHCP_OPT_PAD) {
        o++;
        continue;
      }
      if (o + 2 > end) return -1;
      const len = buf[o + 1], v = o + 2;
      if (v + len > end) return -1;
      if (this.#count[code] === 0) {
        this.#seen[this.#nseen++] = code;
        this.#off[code] = v;
        this.#len[code] = len;
        this.#count[code] = 1;
      } else {
        this.#len[code] += len;
        if (this.#count[code] < 255) this.#count[code]++;
      }
      o = v + len;
    }
    return end;
  }

  /**
   * RFC 3396 §5: the values of a repeated option, in the order options field, `file`, `sname`,
   * form one value. Copy the fixed fields and each option once (code, length byte capped at 255,
   * whole value) into `#own` and point the view at it. Rare, so the copy is acceptable; the
   * common message is read in place.
   */
  #normalize(): void {
    const src = this.buf, base = this.offset;
    let need = DHCP_OPTIONS_OFFSET + 1;
    for (let i = 0; i < this.#nseen; i++) need += 2 + this.#len[this.#seen[i]];
    if (this.#own.length < need) this.#own = new Uint8Array(Math.max(need, 1024));
    const own = this.#own;
    own.set(src.subarray(base, base + DHCP_OPTIONS_OFFSET), 0);
    let w = DHCP_OPTIONS_OFFSET;
    for (let i = 0; i < this.#nseen; i++) {
      const code = this.#seen[i], total = this.#len[code];
      own[w] = code;
      own[w + 1] = total > 255 ? 255 : total;
      w += 2;
      const start = w;
      // Gather the pieces by walking the areas again, in RFC 2131 §4.1 order.
      w = this.#gather(src, base + DHCP_OPTIONS_OFFSET, this.options_end, code, own, w);
      if (this.overload & 1) w = this.#gather(src, base + 108, base + 236, code, own, w);
      if (this.overload & 2) w = this.#gather(src, base + 44, base + 108, code, own, w);
      this.#off[code] = start;
    }
    own[w] = DHCP_OPT_END;
    this.buf = own;
    this.offset = 0;
    this.options_end = w;
    this.length = w + 1;
    this.normalized = true;
  }

  /** Append the values of every `code` option in the (already validated) area to `out` at `w`. */
  #gather(b: Uint8Array, o: number, end: number, code: number, out: Uint8Array, w: number): number {
    while (o < end) {
      const c = b[o];
      if (c === DHCP_OPT_END) break;
      if (c === DHCP_OPT_PAD) {
        o++;
        continue;
      }
      const len = b[o + 1];
      if (c === code) {
        out.set(b.subarray(o + 2, o + 2 + len), w);
        w += len;
      }
      o += 2 + len;
    }
    return w;
  }

  /** Decode the cached options from the index, checking the sizes RFC 2132 gives them. */
  #decode(): DhcpReason {
    const buf = this.buf, off = this.#off, lens = this.#len;
    for (let i = 0; i < this.#nseen; i++) {
      const code = this.#seen[i], v = off[code], len = lens[code];
      switch (code) {
        case DHCP_OPT_MESSAGE_TYPE:
          if (len !== 1) return "bad_option";
          this.message_type = buf[v];
          break;
        case DHCP_OPT_REQUESTED_IP:
        case DHCP_OPT_SERVER_ID:
        case DHCP_OPT_LEASE_TIME:
        case DHCP_OPT_RENEWAL_TIME:
        case DHCP_OPT_REBINDING_TIME:
        case DHCP_OPT_SUBNET_MASK: {
          if (len !== 4) return "bad_option";
          const x = ipv4_at(buf, v);
          if (code === DHCP_OPT_REQUESTED_IP) this.requested_ip = x;
          else if (code === DHCP_OPT_SERVER_ID) this.server_id = x;
          else if (code === DHCP_OPT_LEASE_TIME) this.lease_time = x;
          else if (code === DHCP_OPT_RENEWAL_TIME) this.renewal_time = x;
          else if (code === DHCP_OPT_REBINDING_TIME) this.rebinding_time = x;
          else this.subnet_mask = x;
          break;
        }
        case DHCP_OPT_ROUTER: // §3.5: minimum 4, multiples of 4
          if (len < 4 || len % 4 !== 0) return "bad_option";
          this.router = ipv4_at(buf, v);
          this.router_offset = v;
          this.router_count = len / 4;
          break;
        case DHCP_OPT_DNS: // §3.8
          if (len < 4 || len % 4 !== 0) return "bad_option";
          this.dns_offset = v;
          this.dns_count = len / 4;
          break;
        case DHCP_OPT_DOMAIN_NAME: // §3.17: minimum 1
          if (len < 1) return "bad_option";
          this.domain_name_offset = v;
          this.domain_name_len = len;
          break;
        case DHCP_OPT_INTERFACE_MTU: // §5.1: 2 bytes, minimum 68
          if (len !== 2) return "bad_option";
          this.interface_mtu = (buf[v] << 8) | buf[v + 1];
          if (this.interface_mtu < 68) return "bad_option";
          break;
        case DHCP_OPT_MAX_MESSAGE_SIZE: // §9.10: 2 bytes, minimum 576
          if (len !== 2) return "bad_option";
          this.max_message_size = (buf[v] << 8) | buf[v + 1];
          if (this.max_message_size < 576) return "bad_option";
          break;
        case DHCP_OPT_CLIENT_ID: // §9.14: minimum 2
          if (len < 2) return "bad_option";
          this.client_id_offset = v;
          this.client_id_len = len;
          break;
        case DHCP_OPT_PARAMETER_REQUEST_LIST: // §9.8: minimum 1
          if (len < 1) return "bad_option";
          this.parameter_request_offset = v;
          this.parameter_request_len = len;
          break;
      }
    }
    return "ok";
  }

  get op(): number {
    return this.buf[this.offset];
  }
  get htype(): number {
    return this.buf[this.offset + 1];
  }
  get hlen(): number {
    return this.buf[this.offset + 2];
  }
  get hops(): number {
    return this.buf[this.offset + 3];
  }
  get xid(): number {
    return ipv4_at(this.buf, this.offset + 4);
  }
  get secs(): number {
    return (this.buf[this.offset + 8] << 8) | this.buf[this.offset + 9];
  }
  get flags(): number {
    return (this.buf[this.offset + 10] << 8) | this.buf[this.offset + 11];
  }
  get broadcast(): boolean {
    return (this.flags & DHCP_FLAG_BROADCAST) !== 0;
  }
  get ciaddr(): number {
    return ipv4_at(this.buf, this.offset + 12);
  }
  get yiaddr(): number {
    return ipv4_at(this.buf, this.offset + 16);
  }
  get siaddr(): number {
    return ipv4_at(this.buf, this.offset + 20);
  }
  get giaddr(): number {
    return ipv4_at(this.buf, this.offset + 24);
  }
  /** Offset of chaddr (16 bytes; the first `hlen` are the hardware address). */
  get chaddr_offset(): number {
    return this.offset + 28;
  }
  get sname_offset(): number {
    return this.offset + 44;
  }
  get file_offset(): number {
    return this.offset + 108;
  }
  get options_offset(): number {
    return this.offset + DHCP_OPTIONS_OFFSET;
  }
  /** The i-th address of option 6 (i < dns_count). */
  dns(i: number): number {
    return ipv4_at(this.buf, this.dns_offset + 4 * i);
  }
  /** The i-th address of option 3 (i < router_count). */
  router_at(i: number): number {
    return ipv4_at(this.buf, this.router_offset + 4 * i);
  }

  /**
   * Offset in `buf` of the value of option `code`, or -1; its length is `option_len(code)`. A
   * repeated option (RFC 3396) is found whole, and options in an overloaded `file`/`sname` (RFC
   * 2132 §9.3) are found too. Only valid after `reset` returned "ok".
   */
  option(code: number): number {
    return this.#count[code & 255] === 0 ? -1 : this.#off[code & 255];
  }

  /** Length of the value of option `code` (concatenated when repeated, so possibly > 255), or -1. */
  option_len(code: number): number {
    return this.#count[code & 255] === 0 ? -1 : this.#len[code & 255];
  }
}

export function parse_dhcp(buf: Uint8Array, offset: number, length: number): DhcpView | undefined {
  const v = new DhcpView();
  return v.reset(buf, offset, length) === "ok" ? v : undefined;
}

/**
 * Write the fixed part of a DHCP message and the magic cookie at `offset` (RFC 2131 §2): htype 1
 * (Ethernet), hlen `chaddr_len`, chaddr copied from `chaddr[chaddr_at, + chaddr_len)`; sname and
 * file zeroed. Returns 240; options follow.
 */
export function write_dhcp_header(
  b: Uint8Array,
  offset: number,
  op: number,
  xid: number,
  secs: number,
  flags: number,
  ciaddr: number,
  yiaddr: number,
  siaddr: number,
  giaddr: number,
  chaddr: Uint8Array,
  chaddr_at: number,
  chaddr_len = 6,
): number {
  const o = offset;
  b.fill(0, o, o + DHCP_OPTIONS_OFFSET);
  b[o] = op;
  b[o + 1] = 1;
  b[o + 2] = chaddr_len;
  write_ipv4(b, o + 4, xid);
  b[o + 8] = secs >>> 8;
  b[o + 9] = secs;
  b[o + 10] = flags >>> 8;
  b[o + 11] = flags;
  write_ipv4(b, o + 12, ciaddr);
  write_ipv4(b, o + 16, yiaddr);
  write_ipv4(b, o + 20, siaddr);
  write_ipv4(b, o + 24, giaddr);
  for (let i = 0; i < chaddr_len && i < 16; i++) b[o + 28 + i] = chaddr[chaddr_at + i];
  write_ipv4(b, o + DHCP_FIXED_LEN, DHCP_MAGIC_COOKIE);
  return DHCP_OPTIONS_OFFSET;
}

/** Write option `code` with a 1-byte value (e.g. message type). Returns 3. */
export function write_dhcp_option_u8(b: Uint8Array, o: number, code: number, v: number): number {
  b[o] = code;
  b[o + 1] = 1;
  b[o + 2] = v;
  return 3;
}

/** Write option `code` with a 2-byte value (interface MTU, max message size). Returns 4. */
export function write_dhcp_option_u16(b: Uint8Array, o: number, code: number, v: number): number {
  b[o] = code;
  b[o + 1] = 2;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
  return 4;
}

/** Write option `code` with a 4-byte value (an address or a time in seconds). Returns 6. */
export function write_dhcp_option_u32(b: Uint8Array, o: number, code: number, v: number): number {
  b[o] = code;
  b[o + 1] = 4;
  write_ipv4(b, o + 2, v);
  return 6;
}

/** Write option `code` with `n` uint32 addresses from `addrs[0, n)` (router, DNS). Returns 2 + 4n. */
export function write_dhcp_option_addrs(
  b: Uint8Array,
  o: number,
  code: number,
  addrs: ArrayLike<number>,
  n = addrs.length,
): number {
  b[o] = code;
  b[o + 1] = 4 * n;
  for (let i = 0; i < n; i++) write_ipv4(b, o + 2 + 4 * i, addrs[i]);
  return 2 + 4 * n;
}

/**
 * Write option `code` with the `len` (1..255) bytes `src[at, at + len)` (client id, parameter
 * request list, domain name). Returns 2 + len.
 */
export function write_dhcp_option_bytes(
  b: Uint8Array,
  o: number,
  code: number,
  src: Uint8Array,
  at: number,
  len: number,
): number {
  b[o] = code;
  b[o + 1] = len;
  b.set(src.subarray(at, at + len), o + 2);
  return 2 + len;
}

/**
 * Write End at `o` and zero padding up to `min_len` bytes from the message start `offset`
 * (RFC 1542 §2.1; 300 by default). Returns the message length.
 */
export function write_dhcp_end(
  b: Uint8Array,
  offset: number,
  o: number,
  min_len = DHCP_MIN_LEN,
): number {
  b[o] = DHCP_OPT_END;
  const n = Math.max(o + 1 - offset, min_len);
  b.fill(0, o + 1, offset + n);
  return n;
}
