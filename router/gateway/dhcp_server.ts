/**
 * The gateway's DHCPv4 server: RFC 2131 server side (§4.3), options of RFC 2132.
 *
 * Address choice for a DISCOVER (§4.3.1): the client's reservation, else its current or previous
 * binding, else the requested address (option 50) when free, else the next free pool address —
 * never-used addresses before expired ones of other clients (§4.3.1 recommends reusing the
 * client's own old address and keeping others' for them as long as possible). An exhausted pool
 * gives no offer (`drops.pool_exhausted`).
 *
 * Offers are soft holds kept in a table bounded by `maxOffers` (§4.3.1: the server "need not
 * reserve the offered address", but should not offer it to two clients at once). A DISCOVER
 * flood with random MACs (a starvation attack) would fill any table; when it is full the OLDEST
 * offer is dropped (`drops.offer_table_full`), not the new one: refusing new offers would lock a
 * real client out for the whole hold time, while a real client's REQUEST follows its OFFER within
 * milliseconds and still finds its address. Memory stays O(maxOffers + bindings).
 *
 * REQUEST (§4.3.2): SELECTING (server identifier present: ours → ACK/NAK, another → the client
 * chose another server, forget our offer, silent), INIT-REBOOT (requested IP, no ciaddr: NAK when
 * wrong, silent when we have no record of the client), RENEWING/REBINDING (ciaddr: ACK when the
 * binding is ours or the address is free for it, else NAK). DECLINE (§4.3.3) marks the address
 * unusable for `declineHoldMs`; RELEASE (§4.3.4) ends the binding but keeps it as the client's
 * "previous" address; INFORM (§4.3.5) gets configuration without a lease.
 *
 * Replies (§4.1): to the relay (giaddr) if any; to ciaddr when set (RENEW/REBIND/INFORM); NAKs
 * and everything else broadcast. §4.1 prefers unicast to yiaddr + chaddr when the broadcast bit
 * is clear, but that needs an ARP entry the client cannot answer for yet, which a UDP socket
 * cannot install; "If unicasting is not possible, the message MAY be sent as an IP broadcast".
 *
 * Bindings are committed to the LeaseStore before the ACK goes out; a failed write gives no ACK
 * (`drops.store_error`). Times: `clock` (monotonic ms) for protocol deadlines; `wallClock`
 * (Unix ms) only to convert expiries for the lease file.
 */

import type { Clock } from "../../core/clock.ts";
import { ConfigError } from "../../core/errors.ts";
import { formatMac } from "../../core/mac.ts";
import type { Rng } from "../../core/rng.ts";
import { addr_from_v4, addr_v4, type Cidr, format_addr, type IpAddr } from "../../stack/addr.ts";
import type { UdpSocketCore } from "../../stack/socket_core.ts";
import {
  BOOTREPLY,
  BOOTREQUEST,
  DHCP_CLIENT_PORT,
  DHCP_FLAG_BROADCAST,
  DHCP_OPT_DNS,
  DHCP_OPT_DOMAIN_NAME,
  DHCP_OPT_HOST_NAME,
  DHCP_OPT_INTERFACE_MTU,
  DHCP_OPT_LEASE_TIME,
  DHCP_OPT_MESSAGE_TYPE,
  DHCP_OPT_REBINDING_TIME,
  DHCP_OPT_RENEWAL_TIME,
  DHCP_OPT_ROUTER,
  DHCP_OPT_SERVER_ID,
  DHCP_OPT_SUBNET_MASK,
  DHCP_SERVER_PORT,
  DHCPACK,
  DHCPDECLINE,
  DHCPDISCOVER,
  DHCPINFORM,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  DhcpView,
  write_dhcp_end,
  write_dhcp_header,
  write_dhcp_option_addrs,
  write_dhcp_option_bytes,
  write_dhcp_option_u16,
  write_dhcp_option_u32,
  write_dhcp_option_u8,
} from "../../stack/wire/dhcp.ts";
import { LeaseStore, type StoredLease } from "./lease_store.ts";

export interface DhcpReservation {
  mac: number;
  addr: IpAddr;
  name?: string;
}

export interface DhcpServerOptions {
  /** The gateway address (server identifier, option 54). */
  serverAddr: IpAddr;
  subnet: Cidr;
  /** The pool, inclusive. */
  start: IpAddr;
  end: IpAddr;
  router?: IpAddr;
  dns?: IpAddr[];
  domain?: string;
  mtu?: number;
  /** Default 3600. */
  leaseSeconds?: number;
  reservations?: DhcpReservation[];
  /** Persistence; default in-memory. */
  store?: LeaseStore;
  clock: Clock;
  rng: Rng;
  /** Bound on outstanding offers (default 256); see the module comment. */
  maxOffers?: number;
  /** How long an offer holds its address (default 30 s). */
  offerHoldMs?: number;
  /** How long a DECLINEd address stays unused (default 10 min). */
  declineHoldMs?: number;
  /** Wall clock (Unix ms) for the lease file's expiries; default Date.now. */
  wallClock?: Clock;
  /** Told of leases granted, released and expired (for events); also settable later. */
  onLease?: (e: LeaseEvent) => void;
}

/**
 * A lease changing hands: `granted` when a client is bound to an address it did not hold (not
 * for renewals), `released` on DHCPRELEASE (RFC 2131 §4.4.6), `expired` when a granted lease ran
 * out without renewal (noticed by `poll`).
 */
export interface LeaseEvent {
  type: "granted" | "released" | "expired";
  mac: number;
  addr: IpAddr;
  name?: string;
}

interface Binding {
  mac: number;
  addr: number;
  name?: string;
  /** Monotonic ms; a binding past it is "previous", kept for address reuse. */
  expiresAt: number;
}

interface Offer {
  mac: number;
  addr: number;
  expiresAt: number;
}

const BROADCAST = new Uint8Array([255, 255, 255, 255]);
const SYSTEM_WALL: Clock = { now: () => Date.now() };

/** A label usable in NAME.weft (RFC 1123 §2.1 host names), or undefined. */
export function dhcpHostLabel(raw: string): string | undefined {
  const s = raw.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "");
  return s.length === 0 || s.length > 63 ? undefined : s;
}

export class DhcpServer {
  readonly drops: Record<string, number> = {};
  readonly stats: Record<string, number> = {
    discovers: 0,
    offers: 0,
    requests: 0,
    acks: 0,
    naks: 0,
    releases: 0,
    declines: 0,
    informs: 0,
    sent: 0,
  };

  readonly #server: number;
  readonly #mask: number;
  readonly #net: number;
  readonly #bcast: number;
  readonly #start: number;
  readonly #end: number;
  readonly #router: number;
  readonly #dns: number[];
  readonly #domain: Uint8Array | undefined;
  readonly #mtu: number;
  readonly #lease: number;
  readonly #maxOffers: number;
  readonly #offerHold: number;
  readonly #declineHold: number;
  readonly #store: LeaseStore;
  readonly #clock: Clock;
  readonly #wall: Clock;
  /** mac → reservation; addr → mac of the reservation. */
  readonly #resByMac = new Map<number, { addr: number; name?: string }>();
  readonly #resByAddr = new Map<number, number>();
  /** mac → binding (current or previous); addr → mac. */
  readonly #byMac = new Map<number, Binding>();
  readonly #byAddr = new Map<number, number>();
  /** mac → offer, in insertion order (oldest first); addr → mac. */
  readonly #offers = new Map<number, Offer>();
  readonly #offerAddr = new Map<number, number>();
  /** addr → until (monotonic ms). */
  readonly #declined = new Map<number, number>();
  #cursor: number;
  #sock: UdpSocketCore | undefined;
  readonly #view = new DhcpView();
  readonly #out = new Uint8Array(576);
  /** See DhcpServerOptions.onLease. */
  onLease: ((e: LeaseEvent) => void) | undefined;
  /** Clients told `granted` and not yet `released` / `expired`. */
  readonly #live = new Set<number>();

  constructor(opts: DhcpServerOptions) {
    const v4 = (what: string, a: IpAddr | undefined): number => {
      if (a === undefined || a.length !== 4) {
        throw new ConfigError(
          `Invalid DHCP ${what} "${
            a === undefined ? "" : format_addr(a)
          }": expected an IPv4 address`,
        );
      }
      return addr_v4(a);
    };
    const { subnet } = opts;
    if (subnet.addr.length !== 4 || !(subnet.prefix >= 0 && subnet.prefix <= 30)) {
      throw new ConfigError(
        `Invalid DHCP subnet "${
          format_addr(subnet.addr)
        }/${subnet.prefix}": expected IPv4 /0 to /30`,
      );
    }
    this.#mask = subnet.prefix === 0 ? 0 : (0xffffffff << (32 - subnet.prefix)) >>> 0;
    this.#net = (addr_v4(subnet.addr) & this.#mask) >>> 0;
    this.#bcast = (this.#net | ~this.#mask) >>> 0;
    const cidr = `${format_addr(addr_from_v4(this.#net))}/${subnet.prefix}`;
    const host = (what: string, a: IpAddr | undefined): number => {
      const x = v4(what, a);
      if (((x & this.#mask) >>> 0) !== this.#net || x === this.#net || x === this.#bcast) {
        throw new ConfigError(
          `Invalid DHCP ${what} "${format_addr(a!)}": expected a host address inside ${cidr}`,
        );
      }
      return x;
    };
    this.#server = host("server address", opts.serverAddr);
    this.#start = host("pool start", opts.start);
    this.#end = host("pool end", opts.end);
    const range = `${format_addr(opts.start)}-${format_addr(opts.end)}`;
    if (this.#start > this.#end) {
      throw new ConfigError(`Invalid DHCP pool "${range}": the start is after the end`);
    }
    if (this.#server >= this.#start && this.#server <= this.#end) {
      throw new ConfigError(
        `Invalid DHCP pool "${range}": it contains the server address ${
          format_addr(opts.serverAddr)
        }`,
      );
    }
    this.#router = opts.router === undefined ? -1 : v4("router", opts.router);
    this.#dns = (opts.dns ?? []).map((a) => v4("DNS server", a));
    if (this.#dns.length > 63) throw new ConfigError(`Too many DHCP DNS servers: at most 63`);
    if (opts.domain !== undefined) {
      const d = opts.domain.replace(/\.$/, "");
      if (!/^[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*$/.test(d) || d.length > 253) {
        throw new ConfigError(`Invalid DHCP domain "${opts.domain}": expected a DNS name`);
      }
      this.#domain = new TextEncoder().encode(d);
    }
    this.#mtu = opts.mtu ?? -1;
    if (
      opts.mtu !== undefined && !(Number.isInteger(opts.mtu) && opts.mtu >= 68 && opts.mtu <= 65535)
    ) {
      throw new ConfigError(`Invalid DHCP MTU "${opts.mtu}": expected 68 to 65535 (RFC 2132 §5.1)`);
    }
    this.onLease = opts.onLease;
    this.#lease = opts.leaseSeconds ?? 3600;
    if (!(Number.isInteger(this.#lease) && this.#lease >= 10 && this.#lease < 0xffffffff)) {
      throw new ConfigError(
        `Invalid DHCP lease time "${opts.leaseSeconds}": expected 10 to 4294967294 seconds`,
      );
    }
    this.#maxOffers = opts.maxOffers ?? 256;
    if (!(Number.isInteger(this.#maxOffers) && this.#maxOffers >= 1)) {
      throw new ConfigError(`Invalid DHCP maxOffers "${opts.maxOffers}": expected at least 1`);
    }
    this.#offerHold = opts.offerHoldMs ?? 30_000;
    this.#declineHold = opts.declineHoldMs ?? 600_000;
    const names = new Set<string>();
    for (const r of opts.reservations ?? []) {
      const a = host("reservation address", r.addr);
      const m = formatMac(r.mac);
      if (a === this.#server) {
        throw new ConfigError(
          `Invalid DHCP reservation ${m}: ${format_addr(r.addr)} is the server`,
        );
      }
      if (this.#resByMac.has(r.mac)) throw new ConfigError(`Duplicate DHCP reservation for ${m}`);
      if (this.#resByAddr.has(a)) {
        throw new ConfigError(`Duplicate DHCP reservation of ${format_addr(r.addr)} (${m})`);
      }
      let name: string | undefined;
      if (r.name !== undefined) {
        name = dhcpHostLabel(r.name);
        if (name === undefined || name !== r.name.toLowerCase()) {
          throw new ConfigError(`Invalid DHCP reservation name "${r.name}": expected a host label`);
        }
        if (names.has(name)) throw new ConfigError(`Duplicate DHCP reservation name "${r.name}"`);
        names.add(name);
      }
      this.#resByMac.set(r.mac, name === undefined ? { addr: a } : { addr: a, name });
      this.#resByAddr.set(a, r.mac);
    }
    this.#store = opts.store ?? LeaseStore.memory();
    this.#clock = opts.clock;
    this.#wall = opts.wallClock ?? SYSTEM_WALL;
    this.#cursor = this.#start + opts.rng.below(this.#end - this.#start + 1);
    // Leases from the file: expiries converted from wall time to our clock. Entries outside the
    // subnet (the configuration changed) are dropped from the table at the next write.
    const now = this.#clock.now(), wall = this.#wall.now();
    for (const l of this.#store.load()) {
      const a = addr_v4(l.addr);
      if (((a & this.#mask) >>> 0) !== this.#net || a === this.#server) continue;
      const b: Binding = { mac: l.mac, addr: a, expiresAt: now + (l.expires - wall) };
      if (l.name !== undefined) b.name = l.name;
      this.#bind(b);
    }
  }

  #drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  attach(sock: UdpSocketCore): void {
    this.#sock = sock;
    sock.onDatagram = (data) => this.input(data, 0, data.length, this.#clock.now());
  }

  /** Bindings in force (reservations appear once bound). */
  leases(): Array<{ mac: number; addr: IpAddr; name?: string; expiresAt: number }> {
    const now = this.#clock.now();
    const out: Array<{ mac: number; addr: IpAddr; name?: string; expiresAt: number }> = [];
    for (const b of this.#byMac.values()) {
      if (b.expiresAt <= now) continue;
      const l: { mac: number; addr: IpAddr; name?: string; expiresAt: number } = {
        mac: b.mac,
        addr: addr_from_v4(b.addr),
        expiresAt: b.expiresAt,
      };
      if (b.name !== undefined) l.name = b.name;
      out.push(l);
    }
    return out;
  }

  /** The outstanding offers (for tests and the API). */
  get offerCount(): number {
    return this.#offers.size;
  }

  /** The host name of a reservation or a binding in force at `addr`. */
  nameOf(addr: IpAddr): string | undefined {
    if (addr.length !== 4) return undefined;
    const a = addr_v4(addr);
    const rm = this.#resByAddr.get(a);
    const r = rm === undefined ? undefined : this.#resByMac.get(rm);
    if (r?.name !== undefined) return r.name;
    const m = this.#byAddr.get(a);
    const b = m === undefined ? undefined : this.#byMac.get(m);
    return b !== undefined && b.expiresAt > this.#clock.now() ? b.name : undefined;
  }

  /** The address of host `name` (a reservation's, or a binding's in force); case-insensitive. */
  addrOf(name: string): IpAddr | undefined {
    const n = name.toLowerCase().replace(/\.$/, "");
    for (const r of this.#resByMac.values()) if (r.name === n) return addr_from_v4(r.addr);
    const now = this.#clock.now();
    for (const b of this.#byMac.values()) {
      if (b.name === n && b.expiresAt > now) return addr_from_v4(b.addr);
    }
    return undefined;
  }

  /** Expire offers and DECLINE holds. Returns the next deadline (Infinity: none). */
  poll(now: number): number {
    let next = Infinity;
    for (const [mac, o] of this.#offers) {
      if (o.expiresAt <= now) this.#unoffer(mac);
      else next = Math.min(next, o.expiresAt);
    }
    for (const [a, until] of this.#declined) {
      if (until <= now) this.#declined.delete(a);
      else next = Math.min(next, until);
    }
    // Bindings lapse lazily (checked where used): an expired one stays as the client's previous
    // address until the pool needs it. Report the next expiry so a caller can refresh views.
    for (const b of this.#byMac.values()) {
      if (b.expiresAt > now) next = Math.min(next, b.expiresAt);
      else if (this.#live.delete(b.mac)) this.#tell("expired", b);
    }
    return next;
  }

  /** Handle one DHCP message (a UDP payload). Never throws; malformed input is counted. */
  input(buf: Uint8Array, off: number, len: number, now: number): void {
    try {
      this.#input(buf, off, len, now);
    } catch {
      // A bug must not take the gateway down; count it so a test sees it.
      this.#drop("internal_error");
    }
  }

  #input(buf: Uint8Array, off: number, len: number, now: number): void {
    const v = this.#view;
    const r = v.reset(buf, off, len);
    if (r !== "ok") return this.#drop(r);
    if (v.op !== BOOTREQUEST) return this.#drop("not_request");
    if (v.htype !== 1 || v.hlen !== 6) return this.#drop("not_ethernet");
    const co = v.chaddr_offset, b = v.buf;
    const mac = (b[co] * 0x10000 + (b[co + 1] << 8) + b[co + 2]) * 0x1000000 +
      ((b[co + 3] << 16) | (b[co + 4] << 8) | b[co + 5]);
    if (b[co] & 1) return this.#drop("group_mac");
    switch (v.message_type) {
      case DHCPDISCOVER:
        return this.#discover(v, mac, now);
      case DHCPREQUEST:
        return this.#request(v, mac, now);
      case DHCPDECLINE:
        return this.#decline(v, mac, now);
      case DHCPRELEASE:
        return this.#release(v, mac, now);
      case DHCPINFORM:
        return this.#inform(v, now);
      case -1:
        return this.#drop("bootp"); // plain BOOTP (no option 53): not served
      default:
        return this.#drop("unexpected_type");
    }
  }

  // ---- address bookkeeping ----

  #bind(b: Binding): void {
    const old = this.#byMac.get(b.mac);
    if (old !== undefined && this.#byAddr.get(old.addr) === b.mac) this.#byAddr.delete(old.addr);
    const other = this.#byAddr.get(b.addr);
    if (other !== undefined && other !== b.mac) this.#byMac.delete(other);
    this.#byMac.set(b.mac, b);
    this.#byAddr.set(b.addr, b.mac);
  }

  #unoffer(mac: number): void {
    const o = this.#offers.get(mac);
    if (o === undefined) return;
    this.#offers.delete(mac);
    if (this.#offerAddr.get(o.addr) === mac) this.#offerAddr.delete(o.addr);
  }

  #inPool(a: number): boolean {
    return a >= this.#start && a <= this.#end;
  }

  /**
   * Whether `a` may be given to `mac` now: on our subnet, a host address, not the server, not
   * reserved for another client, not bound to another client (in force), not offered to
   * another client, not declined. `anyInSubnet` also allows addresses outside the pool (a
   * client renewing an address we bound earlier with a different pool).
   */
  #free(a: number, mac: number, now: number, anyInSubnet = false): boolean {
    if (((a & this.#mask) >>> 0) !== this.#net || a === this.#net || a === this.#bcast) {
      return false;
    }
    if (a === this.#server) return false;
    const rm = this.#resByAddr.get(a);
    if (rm !== undefined) return rm === mac;
    if (!anyInSubnet && !this.#inPool(a)) return false;
    const bm = this.#byAddr.get(a);
    if (bm !== undefined && bm !== mac && this.#byMac.get(bm)!.expiresAt > now) return false;
    const om = this.#offerAddr.get(a);
    if (om !== undefined && om !== mac) return false;
    const d = this.#declined.get(a);
    return d === undefined || d <= now;
  }

  /** §4.3.1 address choice; -1 when the pool is exhausted. */
  #choose(v: DhcpView, mac: number, now: number): number {
    const res = this.#resByMac.get(mac);
    if (res !== undefined) return res.addr;
    const prev = this.#byMac.get(mac);
    if (prev !== undefined && this.#free(prev.addr, mac, now, true)) return prev.addr;
    const offered = this.#offers.get(mac);
    if (offered !== undefined && this.#free(offered.addr, mac, now)) return offered.addr;
    if (v.requested_ip !== -1 && this.#free(v.requested_ip >>> 0, mac, now)) {
      const bm = this.#byAddr.get(v.requested_ip >>> 0);
      if (bm === undefined || bm === mac) return v.requested_ip >>> 0;
    }
    // Two passes from a rotating cursor: first addresses nobody held, then ones whose binding
    // lapsed (another client's previous address).
    const n = this.#end - this.#start + 1;
    for (let pass = 0; pass < 2; pass++) {
      let a = this.#cursor;
      for (let i = 0; i < n; i++, a = a === this.#end ? this.#start : a + 1) {
        if (pass === 0 && this.#byAddr.has(a)) continue;
        if (this.#free(a, mac, now)) {
          this.#cursor = a === this.#end ? this.#start : a + 1;
          return a;
        }
      }
    }
    return -1;
  }

  // ---- messages ----

  #discover(v: DhcpView, mac: number, now: number): void {
    this.stats.discovers++;
    const a = this.#choose(v, mac, now);
    if (a === -1) return this.#drop("pool_exhausted");
    this.#unoffer(mac);
    if (this.#offers.size >= this.#maxOffers) {
      const oldest = this.#offers.keys().next().value!;
      this.#unoffer(oldest);
      this.#drop("offer_table_full");
    }
    this.#offers.set(mac, { mac, addr: a, expiresAt: now + this.#offerHold });
    this.#offerAddr.set(a, mac);
    this.stats.offers++;
    this.#reply(v, DHCPOFFER, a, true);
  }

  #request(v: DhcpView, mac: number, now: number): void {
    this.stats.requests++;
    const ciaddr = v.ciaddr >>> 0;
    if (v.server_id !== -1) {
      // SELECTING (§4.3.2): the server identifier says whose offer the client took.
      if ((v.server_id >>> 0) !== this.#server) {
        this.#unoffer(mac);
        return this.#drop("other_server");
      }
      const want = v.requested_ip !== -1 ? v.requested_ip >>> 0 : ciaddr;
      if (want === 0) return this.#nak(v, "no_requested_ip");
      return this.#ackOrNak(v, mac, want, now, false);
    }
    if (ciaddr === 0) {
      // INIT-REBOOT: the client checks its remembered address.
      if (v.requested_ip === -1) return this.#drop("request_without_address");
      const want = v.requested_ip >>> 0;
      if (((want & this.#mask) >>> 0) !== this.#net) return this.#nak(v, "wrong_subnet");
      const res = this.#resByMac.get(mac);
      const b = this.#byMac.get(mac);
      if (res === undefined && b === undefined) {
        // "If the DHCP server has no record of this client, then it MUST remain silent".
        return this.#drop("init_reboot_unknown");
      }
      return this.#ackOrNak(v, mac, want, now, true);
    }
    // RENEWING (unicast) / REBINDING (broadcast): ciaddr is the address in use.
    return this.#ackOrNak(v, mac, ciaddr, now, true);
  }

  #ackOrNak(v: DhcpView, mac: number, a: number, now: number, anyInSubnet: boolean): void {
    const res = this.#resByMac.get(mac);
    const ok = res !== undefined ? res.addr === a : this.#free(a, mac, now, anyInSubnet);
    if (!ok) return this.#nak(v, "address_unavailable");
    const b: Binding = { mac, addr: a, expiresAt: now + this.#lease * 1000 };
    const name = res?.name ?? this.#clientName(v) ?? this.#byMac.get(mac)?.name;
    if (name !== undefined) b.name = name;
    const prev = this.#byMac.get(mac);
    this.#unoffer(mac);
    this.#bind(b);
    if (!this.#commit()) {
      // Not on disk: do not promise the address. Restore what was there.
      if (prev !== undefined) this.#bind(prev);
      else {
        this.#byMac.delete(mac);
        this.#byAddr.delete(a);
      }
      return this.#drop("store_error");
    }
    this.stats.acks++;
    if (!this.#live.has(mac) || prev?.addr !== a) {
      this.#live.add(mac);
      this.#tell("granted", b);
    }
    this.#reply(v, DHCPACK, a, true);
  }

  #nak(v: DhcpView, why: string): void {
    this.stats.naks++;
    this.#drop(`nak_${why}`);
    this.#reply(v, DHCPNAK, 0, false);
  }

  #decline(v: DhcpView, mac: number, now: number): void {
    this.stats.declines++;
    if (v.server_id !== -1 && (v.server_id >>> 0) !== this.#server) {
      return this.#drop("other_server");
    }
    if (v.requested_ip === -1) return this.#drop("decline_without_address");
    const a = v.requested_ip >>> 0;
    const b = this.#byMac.get(mac);
    if (b === undefined || b.addr !== a) {
      this.#unoffer(mac);
      return this.#drop("decline_unknown");
    }
    // §4.3.3: the address is in use by someone else (the client's ARP probe said so).
    this.#live.delete(mac);
    this.#byMac.delete(mac);
    this.#byAddr.delete(a);
    this.#declined.set(a, now + this.#declineHold);
    if (!this.#commit()) this.#drop("store_error");
  }

  #release(v: DhcpView, mac: number, now: number): void {
    this.stats.releases++;
    if (v.server_id !== -1 && (v.server_id >>> 0) !== this.#server) {
      return this.#drop("other_server");
    }
    const b = this.#byMac.get(mac);
    if (b === undefined || b.addr !== (v.ciaddr >>> 0)) return this.#drop("release_unknown");
    // §4.3.4: keep the binding as the client's previous address (it gets it back next time).
    b.expiresAt = Math.min(b.expiresAt, now);
    if (!this.#commit()) this.#drop("store_error");
    if (this.#live.delete(mac)) this.#tell("released", b);
  }

  /** Report a lease change; a failing listener must not break the server. */
  #tell(type: LeaseEvent["type"], b: Binding): void {
    if (!this.onLease) return;
    const e: LeaseEvent = { type, mac: b.mac, addr: addr_from_v4(b.addr) };
    if (b.name !== undefined) e.name = b.name;
    try {
      this.onLease(e);
    } catch {
      this.#drop("lease_listener_error");
    }
  }

  #inform(v: DhcpView, _now: number): void {
    this.stats.informs++;
    if (v.ciaddr === 0) return this.#drop("inform_without_ciaddr");
    this.#reply(v, DHCPACK, 0, false);
  }

  #clientName(v: DhcpView): string | undefined {
    const o = v.option(DHCP_OPT_HOST_NAME), n = v.option_len(DHCP_OPT_HOST_NAME);
    if (o < 0 || n <= 0 || n > 255) return undefined;
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(v.buf[o + i]);
    return dhcpHostLabel(s.split(".")[0]);
  }

  /** Write the table to the store; false when the write failed. */
  #commit(): boolean {
    const now = this.#clock.now(), wall = this.#wall.now();
    const rows: StoredLease[] = [];
    for (const b of this.#byMac.values()) {
      const l: StoredLease = {
        mac: b.mac,
        addr: addr_from_v4(b.addr),
        expires: Math.round(wall + (b.expiresAt - now)),
      };
      if (b.name !== undefined) l.name = b.name;
      rows.push(l);
    }
    try {
      this.#store.save(rows);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Build and send a reply. `lease`: include lease time, T1, T2 (OFFER, ACK to a REQUEST);
   * INFORM's ACK and NAK carry none (§4.3.5, table 3). NAK carries only type and server id.
   */
  #reply(v: DhcpView, type: number, yiaddr: number, lease: boolean): void {
    const sock = this.#sock;
    if (sock === undefined) return this.#drop("not_attached");
    const b = this.#out;
    const giaddr = v.giaddr >>> 0, ciaddr = v.ciaddr >>> 0;
    const nak = type === DHCPNAK;
    const inform = type === DHCPACK && !lease;
    // Table 3 of §4.3.1: ciaddr is echoed in an ACK to a REQUEST and in an INFORM's ACK.
    const ci = nak || type === DHCPOFFER ? 0 : ciaddr;
    write_dhcp_header(
      b,
      0,
      BOOTREPLY,
      v.xid,
      0,
      v.flags & DHCP_FLAG_BROADCAST,
      ci,
      yiaddr,
      0,
      giaddr,
      v.buf,
      v.chaddr_offset,
      6,
    );
    let o = 240;
    o += write_dhcp_option_u8(b, o, DHCP_OPT_MESSAGE_TYPE, type);
    o += write_dhcp_option_u32(b, o, DHCP_OPT_SERVER_ID, this.#server);
    if (!nak) {
      if (lease) {
        o += write_dhcp_option_u32(b, o, DHCP_OPT_LEASE_TIME, this.#lease);
        // §4.4.5 defaults: T1 = 0.5, T2 = 0.875 of the lease.
        o += write_dhcp_option_u32(b, o, DHCP_OPT_RENEWAL_TIME, Math.floor(this.#lease / 2));
        o += write_dhcp_option_u32(b, o, DHCP_OPT_REBINDING_TIME, Math.floor(this.#lease * 0.875));
      }
      o += write_dhcp_option_u32(b, o, DHCP_OPT_SUBNET_MASK, this.#mask);
      if (this.#router !== -1) o += write_dhcp_option_u32(b, o, DHCP_OPT_ROUTER, this.#router);
      if (this.#dns.length > 0) o += write_dhcp_option_addrs(b, o, DHCP_OPT_DNS, this.#dns);
      if (this.#domain !== undefined) {
        o += write_dhcp_option_bytes(
          b,
          o,
          DHCP_OPT_DOMAIN_NAME,
          this.#domain,
          0,
          this.#domain.length,
        );
      }
      if (this.#mtu !== -1) o += write_dhcp_option_u16(b, o, DHCP_OPT_INTERFACE_MTU, this.#mtu);
    }
    const n = write_dhcp_end(b, 0, o);
    let dst: IpAddr, port: number;
    if (giaddr !== 0) {
      // §4.1: through the relay agent, to its server port.
      dst = addr_from_v4(giaddr);
      port = DHCP_SERVER_PORT;
    } else if (!nak && ciaddr !== 0 && (inform || type === DHCPACK)) {
      dst = addr_from_v4(ciaddr);
      port = DHCP_CLIENT_PORT;
    } else {
      dst = BROADCAST;
      port = DHCP_CLIENT_PORT;
    }
    if (sock.sendTo(b.subarray(0, n), dst, port)) this.stats.sent++;
    else this.#drop("send_failed");
  }
}
