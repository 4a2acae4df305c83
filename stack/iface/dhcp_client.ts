/**
 * DHCPv4 client: the state machine of RFC 2131 §4.4 (figure 5) with the options of RFC 2132.
 *
 * INIT → (DISCOVER) SELECTING → first OFFER → (REQUEST: requested IP + server id) REQUESTING →
 * ACK → BOUND; at T1 RENEWING (REQUEST unicast to the server, ciaddr set), at T2 REBINDING (the
 * same, broadcast), at expiry back to INIT. NAK in any requesting state → INIT. With a previous
 * address, `start` goes INIT-REBOOT → REBOOTING (REQUEST with that address, no server id).
 *
 * Choices, and why:
 * - The first acceptable OFFER is taken (RFC 2131 §4.4.1 lets the client pick any); there is no
 *   collection window.
 * - No ARP probe of the offered address and so no DHCPDECLINE (§4.4.1 says SHOULD probe): the
 *   interface owns ARP, and the brief leaves DECLINE optional. A known gap.
 * - No initial random 1-10 s wait before the first DISCOVER (§4.4.1 SHOULD): a Deno program wants
 *   its address now, and the jittered retransmissions below still desynchronise clients.
 * - Retransmission in SELECTING / REQUESTING / REBOOTING: 4, 8, 16, 32, 64, 64... s, each ±1 s
 *   uniform jitter (§4.1). REQUESTING and REBOOTING give up after `REQUEST_TRIES` sends and
 *   restart at INIT (§3.1 step 5, §3.2 step 4 leave the count to the client).
 * - In RENEWING and REBINDING the next try is half the time left to T2 (resp. expiry), at least
 *   60 s (§4.4.5), never past that deadline.
 * - The BROADCAST flag is set while the client has no address (§4.1): the stack drops unicast to
 *   an address it does not own yet, as most kernels do.
 * - The lease's clock starts when the REQUEST that got the ACK was first sent (§4.4.1), so T1,
 *   T2 and expiry are never later than the server's view of them.
 * - T1/T2 default to 0.5 and 0.875 of the lease (§4.4.5); values from the server that are not
 *   T1 < T2 < lease are replaced by the defaults. A lease of 0xffffffff is infinite: no timers.
 * - No subnet mask in the ACK: the classful prefix of the address (RFC 2131 leaves it open).
 *
 * All state is one plain object (`snapshot()` / `restore()`): numbers, strings and Uint8Arrays.
 */

import type { Clock } from "../../core/clock.ts";
import type { Rng } from "../../core/rng.ts";
import { addr_from_v4, addr_v4, type IpAddr } from "../addr.ts";
import type { Timed } from "../ip_io.ts";
import {
  BOOTREPLY,
  BOOTREQUEST,
  DHCP_FLAG_BROADCAST,
  DHCP_OPT_CLIENT_ID,
  DHCP_OPT_DNS,
  DHCP_OPT_DOMAIN_NAME,
  DHCP_OPT_HOST_NAME,
  DHCP_OPT_INTERFACE_MTU,
  DHCP_OPT_LEASE_TIME,
  DHCP_OPT_MESSAGE_TYPE,
  DHCP_OPT_PARAMETER_REQUEST_LIST,
  DHCP_OPT_REBINDING_TIME,
  DHCP_OPT_RENEWAL_TIME,
  DHCP_OPT_REQUESTED_IP,
  DHCP_OPT_ROUTER,
  DHCP_OPT_SERVER_ID,
  DHCP_OPT_SUBNET_MASK,
  DHCPACK,
  DHCPDISCOVER,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  DhcpView,
  write_dhcp_end,
  write_dhcp_header,
  write_dhcp_option_bytes,
  write_dhcp_option_u32,
  write_dhcp_option_u8,
} from "../wire/dhcp.ts";
import { write_mac } from "../wire/ethernet.ts";

export interface DhcpLease {
  addr: IpAddr;
  prefix: number;
  router?: IpAddr;
  dns: IpAddr[];
  domain?: string;
  mtu?: number;
  server: IpAddr;
  /** Seconds; 0xffffffff is infinite. */
  leaseSeconds: number;
  /** Renewal (T1) and rebinding (T2) times, seconds after `obtainedAt`. */
  t1: number;
  t2: number;
  /** When the lease's clock started (ms, the client's clock). */
  obtainedAt: number;
}

export interface DhcpClientIo {
  /**
   * Send a DHCP message (the UDP payload `buf[0,len)`) from port 68 to port 67: `dst` undefined =
   * broadcast 255.255.255.255 (source 0.0.0.0 while unbound), otherwise unicast to the server
   * (RENEWING). `buf` is reused: copy to keep.
   */
  send(buf: Uint8Array, len: number, dst: IpAddr | undefined): boolean;
}

export type DhcpState =
  | "INIT"
  | "SELECTING"
  | "REQUESTING"
  | "BOUND"
  | "RENEWING"
  | "REBINDING"
  | "INIT-REBOOT"
  | "REBOOTING"
  | "STOPPED";

export type DhcpLeaseReason = "bound" | "renewed" | "rebound" | "expired" | "nak" | "released";

export interface DhcpClientOptions {
  /** The interface MAC as a 48-bit number. */
  mac: number;
  clock: Clock;
  rng: Rng;
  /** Option 12 (RFC 2132 §3.14). */
  hostname?: string;
  /** Option 61 (RFC 2132 §9.14), type byte first; default 1 (Ethernet) + MAC, as udhcpc sends. */
  clientId?: Uint8Array;
}

/** The whole protocol state: plain data. */
interface ClientState {
  state: DhcpState;
  xid: number;
  /** When the current exchange began (ms): the `secs` field counts from here (RFC 2131 §2). */
  exchangeStart: number;
  /** When the current REQUEST was first sent (ms): the lease's clock starts here (§4.4.1). */
  requestSentAt: number;
  /** Sends so far in this state (backoff exponent, give-up count). */
  tries: number;
  /** Next retransmission (ms), or Infinity. */
  retxAt: number;
  /** The address being requested (OFFER's yiaddr or the previous address) and its server. */
  requested: number;
  server: number;
  lease: DhcpLease | undefined;
  /** Absolute deadlines of the lease (ms): Infinity for an infinite lease or none. */
  t1At: number;
  t2At: number;
  expireAt: number;
}

/** Sends of one REQUEST (REQUESTING, REBOOTING) before starting over at INIT. */
export const REQUEST_TRIES = 4;
const INFINITE = 0xffffffff;
/** RFC 2132 §9.8: what we want to hear about. */
const PARAMETERS = new Uint8Array([
  DHCP_OPT_SUBNET_MASK,
  DHCP_OPT_ROUTER,
  DHCP_OPT_DNS,
  DHCP_OPT_DOMAIN_NAME,
  DHCP_OPT_INTERFACE_MTU,
  DHCP_OPT_LEASE_TIME,
  DHCP_OPT_RENEWAL_TIME,
  DHCP_OPT_REBINDING_TIME,
]);

export class DhcpClient implements Timed {
  readonly drops: Record<string, number> = {};
  onLease: ((lease: DhcpLease | undefined, reason: DhcpLeaseReason) => void) | undefined;
  readonly #io: DhcpClientIo;
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #chaddr = new Uint8Array(6);
  readonly #clientId: Uint8Array;
  readonly #hostname: Uint8Array | undefined;
  readonly #tx = new Uint8Array(576);
  readonly #view = new DhcpView();
  #s: ClientState = {
    state: "STOPPED",
    xid: 0,
    exchangeStart: 0,
    requestSentAt: 0,
    tries: 0,
    retxAt: Infinity,
    requested: 0,
    server: 0,
    lease: undefined,
    t1At: Infinity,
    t2At: Infinity,
    expireAt: Infinity,
  };

  constructor(io: DhcpClientIo, opts: DhcpClientOptions) {
    this.#io = io;
    this.#clock = opts.clock;
    this.#rng = opts.rng;
    write_mac(this.#chaddr, 0, opts.mac);
    if (opts.clientId !== undefined) {
      if (opts.clientId.length < 2 || opts.clientId.length > 255) {
        throw new RangeError(
          `Cannot use DHCP client id of ${opts.clientId.length} bytes: expected 2..255 (RFC 2132 §9.14)`,
        );
      }
      this.#clientId = opts.clientId.slice();
    } else {
      this.#clientId = new Uint8Array(7);
      this.#clientId[0] = 1;
      this.#clientId.set(this.#chaddr, 1);
    }
    if (opts.hostname !== undefined) {
      const h = new TextEncoder().encode(opts.hostname);
      if (h.length < 1 || h.length > 255) {
        throw new RangeError(
          `Cannot use DHCP host name "${opts.hostname}": expected 1..255 bytes (RFC 2132 §3.14)`,
        );
      }
      this.#hostname = h;
    }
  }

  get state(): DhcpState {
    return this.#s.state;
  }

  get lease(): DhcpLease | undefined {
    return this.#s.lease;
  }

  /** Begin: DISCOVER, or with `previous` an INIT-REBOOT REQUEST for that address (§3.2). */
  start(now: number, previous?: IpAddr): void {
    const s = this.#s;
    s.lease = undefined;
    s.t1At = s.t2At = s.expireAt = Infinity;
    if (previous !== undefined && previous.length === 4) {
      s.state = "INIT-REBOOT";
      this.#newExchange(now);
      s.requested = addr_v4(previous);
      s.server = 0;
      s.state = "REBOOTING";
      this.#sendRequest(now);
    } else {
      this.#init(now);
    }
  }

  /** DHCPRELEASE to the server (§4.4.6), then STOPPED. Without a lease, just STOPPED. */
  release(now: number): void {
    const s = this.#s, l = s.lease;
    if (
      l !== undefined && (s.state === "BOUND" || s.state === "RENEWING" || s.state === "REBINDING")
    ) {
      s.xid = this.#rng.u32();
      let o = write_dhcp_header(
        this.#tx,
        0,
        BOOTREQUEST,
        s.xid,
        0,
        0,
        addr_v4(l.addr),
        0,
        0,
        0,
        this.#chaddr,
        0,
      );
      o += write_dhcp_option_u8(this.#tx, o, DHCP_OPT_MESSAGE_TYPE, DHCPRELEASE);
      o += write_dhcp_option_u32(this.#tx, o, DHCP_OPT_SERVER_ID, addr_v4(l.server));
      o += write_dhcp_option_bytes(
        this.#tx,
        o,
        DHCP_OPT_CLIENT_ID,
        this.#clientId,
        0,
        this.#clientId.length,
      );
      this.#io.send(this.#tx, write_dhcp_end(this.#tx, 0, o), l.server);
    }
    this.#stop();
    void now;
    if (l !== undefined) this.onLease?.(undefined, "released");
  }

  /** A UDP payload received on port 68 (borrowed). Never throws; drops are counted by reason. */
  input(buf: Uint8Array, off: number, len: number, now: number): void {
    const v = this.#view, s = this.#s;
    const r = v.reset(buf, off, len);
    if (r !== "ok") return this.#drop(r);
    if (v.op !== BOOTREPLY) return this.#drop("not_reply");
    if (v.xid !== s.xid) return this.#drop("xid");
    if (v.htype !== 1 || v.hlen !== 6) return this.#drop("chaddr");
    for (let i = 0; i < 6; i++) {
      if (buf[v.chaddr_offset + i] !== this.#chaddr[i]) return this.#drop("chaddr");
    }
    const type = v.message_type;
    if (type === DHCPOFFER) {
      if (s.state !== "SELECTING") return this.#drop("unexpected");
      // RFC 2131 table 3: an OFFER carries yiaddr and the server identifier.
      if (v.server_id === -1 || v.yiaddr === 0) return this.#drop("bad_offer");
      s.requested = v.yiaddr;
      s.server = v.server_id;
      s.state = "REQUESTING";
      s.tries = 0;
      this.#sendRequest(now);
      return;
    }
    if (type === DHCPACK || type === DHCPNAK) {
      const st = s.state;
      if (st !== "REQUESTING" && st !== "REBOOTING" && st !== "RENEWING" && st !== "REBINDING") {
        return this.#drop("unexpected");
      }
      // Only the server we asked may answer in REQUESTING and RENEWING (§4.3.2: the REQUEST
      // named it, or went to it unicast); any server may in REBOOTING and REBINDING.
      const want = st === "REQUESTING"
        ? s.server
        : st === "RENEWING"
        ? addr_v4(s.lease!.server)
        : -1;
      if (want !== -1 && v.server_id !== -1 && v.server_id !== want) return this.#drop("server");
      if (type === DHCPNAK) return this.#nak(now);
      return this.#ack(v);
    }
    this.#drop("unexpected");
  }

  /** Run what is due: retransmissions, T1, T2, expiry. Returns the next deadline. */
  poll(now: number): number {
    const s = this.#s;
    // A late poll may cross several deadlines (BOUND → RENEWING → REBINDING → expired).
    for (let guard = 0; guard < 8; guard++) {
      switch (s.state) {
        case "SELECTING":
          if (now < s.retxAt) return s.retxAt;
          this.#sendDiscover(now);
          continue;
        case "REQUESTING":
        case "REBOOTING":
          if (now < s.retxAt) return s.retxAt;
          if (s.tries >= REQUEST_TRIES) {
            this.#init(now);
            continue;
          }
          this.#sendRequest(now);
          continue;
        case "BOUND":
          if (now < s.t1At) return s.t1At;
          s.state = "RENEWING";
          this.#newExchange(now);
          this.#sendRequest(now);
          continue;
        case "RENEWING":
          if (now >= s.t2At) {
            s.state = "REBINDING";
            this.#newExchange(now);
            this.#sendRequest(now);
            continue;
          }
          if (now < s.retxAt) return Math.min(s.retxAt, s.t2At);
          this.#sendRequest(now);
          continue;
        case "REBINDING":
          if (now >= s.expireAt) {
            this.#expire(now);
            continue;
          }
          if (now < s.retxAt) return Math.min(s.retxAt, s.expireAt);
          this.#sendRequest(now);
          continue;
        default:
          return Infinity;
      }
    }
    return now;
  }

  /** The whole state, plain data (structured-clonable), with the time it was taken. */
  snapshot(): unknown {
    return { ...structuredClone(this.#s), takenAt: this.#clock.now() };
  }

  /**
   * Continue from a `snapshot()`, possibly of another host: the deadlines are moved by the
   * difference of the two clocks, so time spent in transit does not count.
   */
  restore(snap: unknown): void {
    const x = snap as Partial<ClientState> & { takenAt?: number } | null;
    if (
      typeof x !== "object" || x === null || typeof x.state !== "string" ||
      typeof x.takenAt !== "number" || typeof x.xid !== "number"
    ) {
      throw new TypeError("Cannot restore DHCP client: expected an object from snapshot()");
    }
    const s = structuredClone(x) as ClientState & { takenAt?: number };
    const shift = this.#clock.now() - x.takenAt;
    delete s.takenAt;
    s.exchangeStart += shift;
    s.requestSentAt += shift;
    s.retxAt += shift;
    s.t1At += shift;
    s.t2At += shift;
    s.expireAt += shift;
    if (s.lease !== undefined) s.lease.obtainedAt += shift;
    this.#s = s;
  }

  #drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  #stop(): void {
    const s = this.#s;
    s.state = "STOPPED";
    s.lease = undefined;
    s.retxAt =
      s.t1At =
      s.t2At =
      s.expireAt =
        Infinity;
  }

  #newExchange(now: number): void {
    const s = this.#s;
    s.xid = this.#rng.u32();
    s.exchangeStart = now;
    s.tries = 0;
  }

  #init(now: number): void {
    const s = this.#s;
    s.state = "INIT";
    s.lease = undefined;
    s.t1At = s.t2At = s.expireAt = Infinity;
    this.#newExchange(now);
    s.state = "SELECTING";
    this.#sendDiscover(now);
  }

  /** §4.1: 4 s doubling to 64 s, each ±1 s, uniform. */
  #backoff(now: number): number {
    const base = Math.min(4000 * 2 ** this.#s.tries, 64_000);
    return now + base - 1000 + this.#rng.below(2001);
  }

  #header(now: number, ciaddr: number, broadcast: boolean, type: number): number {
    const s = this.#s;
    const secs = Math.min(65535, Math.max(0, Math.floor((now - s.exchangeStart) / 1000)));
    const flags = broadcast ? DHCP_FLAG_BROADCAST : 0;
    const tx = this.#tx;
    let o = write_dhcp_header(
      tx,
      0,
      BOOTREQUEST,
      s.xid,
      secs,
      flags,
      ciaddr,
      0,
      0,
      0,
      this.#chaddr,
      0,
    );
    o += write_dhcp_option_u8(tx, o, DHCP_OPT_MESSAGE_TYPE, type);
    o += write_dhcp_option_bytes(
      tx,
      o,
      DHCP_OPT_CLIENT_ID,
      this.#clientId,
      0,
      this.#clientId.length,
    );
    if (this.#hostname !== undefined) {
      o += write_dhcp_option_bytes(
        tx,
        o,
        DHCP_OPT_HOST_NAME,
        this.#hostname,
        0,
        this.#hostname.length,
      );
    }
    o += write_dhcp_option_bytes(
      tx,
      o,
      DHCP_OPT_PARAMETER_REQUEST_LIST,
      PARAMETERS,
      0,
      PARAMETERS.length,
    );
    return o;
  }

  #sendDiscover(now: number): void {
    const s = this.#s;
    const o = this.#header(now, 0, true, DHCPDISCOVER);
    this.#io.send(this.#tx, write_dhcp_end(this.#tx, 0, o), undefined);
    s.retxAt = this.#backoff(now);
    s.tries++;
  }

  /** The REQUEST of the current state (RFC 2131 §4.3.2 table 4 for which fields are set). */
  #sendRequest(now: number): void {
    const s = this.#s, tx = this.#tx;
    if (s.tries === 0) s.requestSentAt = now;
    const bound = s.state === "RENEWING" || s.state === "REBINDING";
    const ciaddr = bound ? addr_v4(s.lease!.addr) : 0;
    let o = this.#header(now, ciaddr, !bound, DHCPREQUEST);
    if (!bound) o += write_dhcp_option_u32(tx, o, DHCP_OPT_REQUESTED_IP, s.requested);
    if (s.state === "REQUESTING") o += write_dhcp_option_u32(tx, o, DHCP_OPT_SERVER_ID, s.server);
    const n = write_dhcp_end(tx, 0, o);
    this.#io.send(tx, n, s.state === "RENEWING" ? s.lease!.server : undefined);
    if (bound) {
      // §4.4.5: half the time left to T2 (or expiry), at least 60 s, never past that deadline.
      const until = s.state === "RENEWING" ? s.t2At : s.expireAt;
      s.retxAt = Math.min(until, now + Math.max(60_000, (until - now) / 2));
    } else {
      s.retxAt = this.#backoff(now);
    }
    s.tries++;
  }

  /** NAK: back to INIT. Told to `onLease` unless nothing was in use (a first REQUESTING). */
  #nak(now: number): void {
    const had = this.#s.lease !== undefined || this.#s.state !== "REQUESTING";
    this.#init(now);
    if (had) this.onLease?.(undefined, "nak");
  }

  #expire(now: number): void {
    this.#init(now);
    this.onLease?.(undefined, "expired");
  }

  #ack(v: DhcpView): void {
    const s = this.#s, st = s.state;
    const yi = v.yiaddr;
    if (yi === 0 || yi === 0xffffffff) return this.#drop("bad_ack");
    // §4.3.1 table 3: an ACK to a REQUEST carries the lease time and the server identifier.
    if (v.lease_time === -1) return this.#drop("bad_ack");
    let server = v.server_id;
    if (server === -1) {
      if (s.lease === undefined) return this.#drop("bad_ack");
      server = addr_v4(s.lease.server);
    }
    const lease = v.lease_time;
    let t1 = v.renewal_time, t2 = v.rebinding_time;
    if (lease === INFINITE) {
      t1 = t2 = INFINITE;
    } else {
      if (t2 === -1 || t2 >= lease) t2 = Math.floor(lease * 0.875);
      if (t1 === -1 || t1 >= t2) t1 = Math.floor(lease * 0.5);
      if (t1 >= t2) t1 = t2; // tiny leases
    }
    const dns: IpAddr[] = [];
    for (let i = 0; i < v.dns_count; i++) dns.push(addr_from_v4(v.dns(i)));
    const l: DhcpLease = {
      addr: addr_from_v4(yi),
      prefix: prefix_of(v.subnet_mask, yi),
      dns,
      server: addr_from_v4(server),
      leaseSeconds: lease,
      t1,
      t2,
      obtainedAt: s.requestSentAt,
    };
    if (v.router !== -1) l.router = addr_from_v4(v.router);
    if (v.domain_name_len > 0) {
      l.domain = new TextDecoder().decode(
        v.buf.subarray(v.domain_name_offset, v.domain_name_offset + v.domain_name_len),
      );
    }
    if (v.interface_mtu !== -1) l.mtu = v.interface_mtu;
    s.lease = l;
    s.state = "BOUND";
    s.retxAt = Infinity;
    if (lease === INFINITE) {
      s.t1At = s.t2At = s.expireAt = Infinity;
    } else {
      s.t1At = l.obtainedAt + t1 * 1000;
      s.t2At = l.obtainedAt + t2 * 1000;
      s.expireAt = l.obtainedAt + lease * 1000;
    }
    const reason = st === "RENEWING" ? "renewed" : st === "REBINDING" ? "rebound" : "bound";
    this.onLease?.(l, reason);
  }
}

/**
 * The prefix length of a contiguous subnet mask; for none (or a non-contiguous one) the classful
 * prefix of `addr` (RFC 950 era default, what clients fall back to).
 */
function prefix_of(mask: number, addr: number): number {
  if (mask !== -1) {
    let n = 0;
    while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
    if (n === 32 || ((mask << n) | 0) === 0) return n;
  }
  const a = addr >>> 24;
  return a < 128 ? 8 : a < 192 ? 16 : 24;
}
