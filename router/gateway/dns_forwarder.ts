/**
 * The gateway's DNS forwarder: guests ask the gateway (port 53 on its stack); names in the
 * `weft.` zone are answered here, authoritatively (RFC 1035 §4.1.1 AA; an unknown name there is
 * NXDOMAIN, a known name without records of the type is NOERROR with no answer, RFC 2308 §2.1,
 * §2.2); everything else is relayed to the host's resolvers from a host UDP socket
 * (Deno.listenDatagram, --unstable-net).
 *
 * Relaying: each query leaves with a fresh random ID (RFC 5452 §9.2: the ID is the main defence
 * against spoofed answers) chosen not to collide with a pending one. An answer is accepted only
 * from the upstream address and port the query went to, with that ID and the same question
 * (RFC 5452 §9.1: compare the question, case-insensitively), then sent back to the guest with its
 * own ID. The pending table is bounded (`maxPending`; a full table drops the query, counted —
 * the guest's resolver retries); a query unanswered after `timeoutMs` is tried once on the next
 * upstream, then answered with SERVFAIL (RFC 1035 §4.1.1 rcode 2) so the guest does not wait
 * for its own timeout.
 *
 * Malformed queries never throw (counted by reason); queries with other than one question,
 * non-QUERY opcodes and responses are dropped (counted). Timers: deadlines in the pending
 * entries, `poll(now)`; `attach` arms one real timer to the earliest deadline.
 */

import type { Clock } from "../../core/clock.ts";
import { ConfigError } from "../../core/errors.ts";
import { CryptoRng, type Rng } from "../../core/rng.ts";
import { addr_v4, format_addr, type IpAddr, parse_addr } from "../../stack/addr.ts";
import type { UdpSocketCore } from "../../stack/socket_core.ts";
import {
  DNS_CLASS_IN,
  DNS_FLAG_AA,
  DNS_FLAG_QR,
  DNS_FLAG_RA,
  DNS_FLAG_RD,
  DNS_HEADER_LEN,
  dns_name_skip,
  DNS_RCODE_NOERROR,
  DNS_RCODE_NXDOMAIN,
  DNS_RCODE_SERVFAIL,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DnsView,
  write_dns_header,
  write_dns_rr_a,
  write_dns_rr_aaaa,
} from "../../stack/wire/dns.ts";

export interface DnsUpstream {
  hostname: string;
  port: number;
}

export interface DnsForwarderOptions {
  /** Default: the nameservers of /etc/resolv.conf (port 53). */
  upstream?: DnsUpstream[];
  /**
   * Local answers for the `weft.` zone. Called with the lower-case name without the trailing
   * dot ("vm1.weft") and the QTYPE: addresses of the type asked (4-byte for A, 16-byte for
   * AAAA; others are ignored), `[]` when the name exists without such records, `undefined`
   * when it does not exist (NXDOMAIN).
   */
  names?: (qname: string, qtype: number) => IpAddr[] | undefined;
  /** The local zone; default "weft". */
  zone?: string;
  clock: Clock;
  rng?: Rng;
  /** Bound on queries waiting for an upstream (default 1024). */
  maxPending?: number;
  /** Per upstream try (default 2000 ms). */
  timeoutMs?: number;
  /** TTL of local answers (default 30 s: leases come and go). */
  localTtl?: number;
}

interface Pending {
  /** The ID we used upstream (the key). */
  id: number;
  guestId: number;
  guest: IpAddr;
  guestPort: number;
  /** The query as the guest sent it (copy), for SERVFAIL and the retry. */
  query: Uint8Array;
  /** Offset just after the question in `query`. */
  qend: number;
  upstream: number;
  tries: number;
  deadline: number;
}

/** The `nameserver` lines of a resolv.conf text. */
export function resolvConfNameservers(text: string): DnsUpstream[] {
  const out: DnsUpstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m === null) continue;
    const host = m[1].replace(/%.*$/, ""); // a zone index (fe80::1%eth0) is not for us
    if (parse_addr(host) !== undefined) out.push({ hostname: host, port: 53 });
  }
  return out;
}

/**
 * A `names` function over lookups by host label (e.g. the DHCP server's `addrOf`, plus services):
 * "LABEL.weft" → its address for A (or AAAA when the address is IPv6), `[]` for other types.
 */
export function hostNames(
  lookup: (label: string) => IpAddr | undefined,
  zone = "weft",
): (qname: string, qtype: number) => IpAddr[] | undefined {
  const suffix = `.${zone}`;
  return (qname, qtype) => {
    if (!qname.endsWith(suffix)) return qname === zone ? [] : undefined;
    const label = qname.slice(0, -suffix.length);
    if (label.includes(".")) return undefined;
    const a = lookup(label);
    if (a === undefined) return undefined;
    return (qtype === DNS_TYPE_A && a.length === 4) || (qtype === DNS_TYPE_AAAA && a.length === 16)
      ? [a]
      : [];
  };
}

export class DnsForwarder {
  readonly drops: Record<string, number> = {};
  readonly stats: Record<string, number> = {
    queries: 0,
    local: 0,
    nxdomain: 0,
    forwarded: 0,
    answered: 0,
    retried: 0,
    servfail: 0,
  };
  readonly #upstream: Array<{ addr: IpAddr; port: number; hostname: string }>;
  readonly #names: ((qname: string, qtype: number) => IpAddr[] | undefined) | undefined;
  readonly #zone: string;
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #maxPending: number;
  readonly #timeout: number;
  readonly #ttl: number;
  /** Upstream ID → entry; Map order is send order, so deadlines are in order per try. */
  readonly #pending = new Map<number, Pending>();
  readonly #view = new DnsView();
  readonly #answerView = new DnsView();
  readonly #out = new Uint8Array(1232);
  /** One socket per family at most (the gateway's IPv4 and IPv6 DNS addresses). */
  #socks: UdpSocketCore[] = [];
  #host4: Deno.DatagramConn | undefined;
  #host6: Deno.DatagramConn | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(opts: DnsForwarderOptions) {
    const ups = opts.upstream ?? defaultUpstream();
    this.#upstream = ups.map((u) => {
      const addr = parse_addr(u.hostname);
      if (addr === undefined) {
        throw new ConfigError(`Invalid DNS upstream "${u.hostname}": expected an IP address`);
      }
      if (!(Number.isInteger(u.port) && u.port >= 1 && u.port <= 65535)) {
        throw new ConfigError(`Invalid DNS upstream port "${u.port}": expected 1 to 65535`);
      }
      return { addr, port: u.port, hostname: format_addr(addr) };
    });
    this.#names = opts.names;
    this.#zone = (opts.zone ?? "weft").toLowerCase().replace(/\.$/, "");
    this.#clock = opts.clock;
    this.#rng = opts.rng ?? new CryptoRng();
    this.#maxPending = opts.maxPending ?? 1024;
    this.#timeout = opts.timeoutMs ?? 2000;
    this.#ttl = opts.localTtl ?? 30;
    if (
      !(Number.isInteger(this.#maxPending) && this.#maxPending >= 1 && this.#maxPending <= 65536)
    ) {
      throw new ConfigError(`Invalid DNS maxPending "${opts.maxPending}": expected 1 to 65536`);
    }
    if (!(this.#timeout > 0)) {
      throw new ConfigError(`Invalid DNS timeout "${opts.timeoutMs}": expected > 0 ms`);
    }
  }

  #drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  /** Queries waiting for an upstream. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Serve guests on `sock` (port 53 of the gateway stack); opens the host sockets. */
  /** The socket that answers a guest of this address family. */
  #sockFor(guest: IpAddr): UdpSocketCore | undefined {
    // A socket bound to an address of the guest's family; else the first (a wildcard socket).
    return this.#socks.find((s) => s.localAddr.length === guest.length) ?? this.#socks[0];
  }

  /** Answer queries arriving on `sock` (call once per family to serve IPv4 and IPv6). */
  attach(sock: UdpSocketCore): void {
    this.#socks.push(sock);
    sock.onDatagram = (data, src, port) => this.input(data, src, port, this.#clock.now());
    if (this.#upstream.some((u) => u.addr.length === 4)) {
      this.#host4 = Deno.listenDatagram({ hostname: "0.0.0.0", port: 0, transport: "udp" });
      this.#readLoop(this.#host4);
    }
    if (this.#upstream.some((u) => u.addr.length === 16)) {
      this.#host6 = Deno.listenDatagram({ hostname: "::", port: 0, transport: "udp" });
      this.#readLoop(this.#host6);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sock of this.#socks) sock.onDatagram = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const c of [this.#host4, this.#host6]) {
      try {
        c?.close();
      } catch {
        // already closed
      }
    }
    this.#pending.clear();
  }

  async #readLoop(conn: Deno.DatagramConn): Promise<void> {
    while (!this.#closed) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await conn.receive();
      } catch {
        if (this.#closed) return;
        this.#drop("host_receive_error");
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const [data, from] = got;
      if (from.transport !== "udp") continue;
      const addr = parse_addr(from.hostname.replace(/^::ffff:/, ""));
      if (addr === undefined) {
        this.#drop("answer_bad_source");
        continue;
      }
      this.upstreamInput(data, addr, from.port, this.#clock.now());
    }
  }

  /** A query from a guest (the UDP payload). Never throws. */
  input(data: Uint8Array, src: IpAddr, srcPort: number, now: number): void {
    try {
      this.#query(data, src, srcPort, now);
    } catch {
      this.#drop("internal_error");
    }
  }

  #query(data: Uint8Array, src: IpAddr, srcPort: number, now: number): void {
    const v = this.#view;
    const r = v.reset(data, 0, data.length);
    if (r !== "ok") return this.#drop(`query_${r}`);
    if (v.qr) return this.#drop("query_is_response");
    if (v.opcode !== 0) return this.#drop("query_opcode");
    if (v.qdcount !== 1) return this.#drop("query_not_one_question");
    this.stats.queries++;
    const qend = dns_name_skip(data, 0, data.length, v.questions_offset) + 4;
    const qname = (v.qname() ?? "").toLowerCase();
    if (qname === this.#zone || qname.endsWith(`.${this.#zone}`)) {
      return this.#local(v, data, qend, qname, src, srcPort);
    }
    if (this.#upstream.length === 0) return this.#fail(data, qend, src, srcPort, "no_upstream");
    if (this.#pending.size >= this.#maxPending) return this.#drop("pending_full");
    const id = this.#freshId();
    const p: Pending = {
      id,
      guestId: v.id,
      guest: src.slice(),
      guestPort: srcPort,
      query: data.slice(),
      qend,
      upstream: 0,
      tries: 1,
      deadline: now + this.#timeout,
    };
    this.#pending.set(id, p);
    this.#send(p);
    this.stats.forwarded++;
    this.#arm();
  }

  #freshId(): number {
    for (;;) {
      const id = this.#rng.below(0x10000);
      if (!this.#pending.has(id)) return id;
    }
  }

  #send(p: Pending): void {
    const u = this.#upstream[p.upstream];
    const conn = u.addr.length === 4 ? this.#host4 : this.#host6;
    if (conn === undefined) return this.#drop("not_attached");
    const q = p.query.slice();
    q[0] = p.id >>> 8;
    q[1] = p.id & 0xff;
    conn.send(q, { transport: "udp", hostname: u.hostname, port: u.port }).catch(() => {
      this.#drop("host_send_error");
    });
  }

  /** An answer from an upstream (host socket). Never throws. */
  upstreamInput(data: Uint8Array, src: IpAddr, srcPort: number, now: number): void {
    try {
      this.#answer(data, src, srcPort, now);
    } catch {
      this.#drop("internal_error");
    }
  }

  #answer(data: Uint8Array, src: IpAddr, srcPort: number, _now: number): void {
    if (data.length < DNS_HEADER_LEN) return this.#drop("answer_truncated");
    const p = this.#pending.get((data[0] << 8) | data[1]);
    if (p === undefined) return this.#drop("answer_unknown_id");
    const u = this.#upstream[p.upstream];
    if (u.port !== srcPort || !sameAddr(u.addr, src)) return this.#drop("answer_wrong_source");
    const v = this.#answerView;
    // A truncated (TC) answer may be cut anywhere; only the header and question must hold.
    const r = v.reset(data, 0, data.length);
    if (r !== "ok" && !(r === "truncated" && (data[2] & 0x02) !== 0)) {
      return this.#drop(`answer_${r}`);
    }
    if (!v.qr || v.qdcount !== 1 || !sameQuestion(p.query, p.qend, data)) {
      return this.#drop("answer_mismatch");
    }
    this.#pending.delete(p.id);
    const out = data.slice();
    out[0] = p.guestId >>> 8;
    out[1] = p.guestId & 0xff;
    if (this.#sockFor(p.guest)?.sendTo(out, p.guest, p.guestPort)) this.stats.answered++;
    else this.#drop("guest_send_failed");
  }

  /** Retries and SERVFAILs for queries past their deadline. Returns the next deadline. */
  poll(now: number): number {
    let next = Infinity;
    const retry: Pending[] = [];
    for (const p of this.#pending.values()) {
      if (p.deadline > now) {
        next = Math.min(next, p.deadline);
        continue;
      }
      this.#pending.delete(p.id);
      if (p.tries < 2 && this.#upstream.length > 1) retry.push(p);
      else this.#fail(p.query, p.qend, p.guest, p.guestPort, "timeout");
    }
    for (const p of retry) {
      p.upstream = (p.upstream + 1) % this.#upstream.length;
      p.tries++;
      p.deadline = now + this.#timeout;
      p.id = this.#freshId();
      this.#pending.set(p.id, p);
      this.#send(p);
      this.stats.retried++;
      next = Math.min(next, p.deadline);
    }
    return next;
  }

  #arm(): void {
    if (this.#closed || this.#socks.length === 0) return;
    let at = Infinity;
    for (const p of this.#pending.values()) at = Math.min(at, p.deadline);
    if (at === Infinity || at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.poll(this.#clock.now());
      this.#arm();
    }, Math.max(0, at - this.#clock.now()) + 1);
  }

  /** SERVFAIL for the query `q` (question up to `qend`), to the guest. */
  #fail(q: Uint8Array, qend: number, guest: IpAddr, port: number, why: string): void {
    this.#drop(why);
    this.stats.servfail++;
    const b = this.#out;
    const n = this.#header(q, qend, DNS_RCODE_SERVFAIL, false, 0);
    this.#sockFor(guest)?.sendTo(b.subarray(0, n), guest, port);
  }

  /** Header + the question copied from `q`; returns the length. */
  #header(q: Uint8Array, qend: number, rcode: number, aa: boolean, ancount: number): number {
    const b = this.#out;
    const id = (q[0] << 8) | q[1];
    const flags = DNS_FLAG_QR | (aa ? DNS_FLAG_AA : 0) | ((q[2] << 8) & DNS_FLAG_RD) |
      DNS_FLAG_RA | rcode;
    write_dns_header(b, 0, id, flags, 1, ancount, 0, 0);
    b.set(q.subarray(DNS_HEADER_LEN, qend), DNS_HEADER_LEN);
    return qend;
  }

  #local(
    v: DnsView,
    q: Uint8Array,
    qend: number,
    qname: string,
    src: IpAddr,
    port: number,
  ): void {
    this.stats.local++;
    if (qend > 512) return this.#drop("query_too_long");
    const qtype = v.qtype, qclass = v.qclass;
    const found = qclass === DNS_CLASS_IN ? this.#names?.(qname, qtype) : undefined;
    if (found === undefined) {
      this.stats.nxdomain++;
      const n = this.#header(q, qend, DNS_RCODE_NXDOMAIN, true, 0);
      this.#sockFor(src)?.sendTo(this.#out.subarray(0, n), src, port);
      return;
    }
    const b = this.#out;
    let o = qend, count = 0;
    for (const a of found) {
      if (o + 28 > b.length) break;
      if (qtype === DNS_TYPE_A && a.length === 4) {
        o += write_dns_rr_a(b, o, DNS_HEADER_LEN, this.#ttl, addr_v4(a));
        count++;
      } else if (qtype === DNS_TYPE_AAAA && a.length === 16) {
        o += write_dns_rr_aaaa(b, o, DNS_HEADER_LEN, this.#ttl, a, 0);
        count++;
      }
    }
    // The header last: the answers above were written after the question it copies.
    this.#header(q, qend, DNS_RCODE_NOERROR, true, count);
    this.#sockFor(src)?.sendTo(b.subarray(0, o), src, port);
  }
}

function sameAddr(a: IpAddr, b: IpAddr): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The question of the answer `r` equals the query's (`q` up to `qend`), names case-folded. */
function sameQuestion(q: Uint8Array, qend: number, r: Uint8Array): boolean {
  if (r.length < qend) return false;
  for (let i = DNS_HEADER_LEN; i < qend; i++) {
    let x = q[i], y = r[i];
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

function defaultUpstream(): DnsUpstream[] {
  try {
    return resolvConfNameservers(Deno.readTextFileSync("/etc/resolv.conf"));
  } catch {
    return [];
  }
}
