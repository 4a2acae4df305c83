/**
 * A slirp-like gateway: one user-space stack on a LAN that is the LAN's router, and whose
 * "routing" is NAT to the host's own sockets — no root, no TAP, no kernel forwarding.
 *
 * ```ts
 * const gw = await Gateway.start({ endpoint, cidr: "10.0.2.0/24", forwards: [
 *   { proto: "tcp", hostAddr: "127.0.0.1", hostPort: 2222, guestAddr: "10.0.2.15", guestPort: 22 },
 * ] });
 * ```
 *
 * - The stack has the gateway address (default .2 of the CIDR, slirp's 10.0.2.2) and, with
 *   `ip6`, ::2 of the /64 plus Router Advertisements (router/ra.ts) so guests form addresses by
 *   SLAAC (RFC 4862) and route through us.
 * - `acceptAnyDestination` hands guests' packets for any address to the transports: TCP goes to a
 *   catch-all listener and is relayed to `Deno.connect` (tcp_nat.ts); UDP to the UDP catch-all and
 *   host datagram sockets (udp_nat.ts). Connections to the gateway address go to the host's
 *   127.0.0.1 / ::1 when `hostLoopback` (default), as slirp's 10.0.2.2 does.
 * - MSS: the guest's TCP ends in weft's stack, so the MSS it is offered comes from the LAN MTU
 *   (RFC 9293 §3.7.1) — clamping by construction, whatever the host's own path.
 * - ICMP: echo requests to the gateway's own addresses are answered by the stack. Echo requests to
 *   other destinations are dropped and counted (`icmpEchoForeign`): an unprivileged Deno process
 *   has no ICMP socket to send them on, and answering them ourselves would claim the host is up.
 * - Port forwards (forwards.ts) listen on the host and relay into the LAN.
 */

import type { Endpoint, FrameSink } from "../../core/endpoint.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { CryptoRng, type Rng } from "../../core/rng.ts";
import { ConfigError, ConflictError, NotFoundError } from "../../core/errors.ts";
import { addr_equal, format_addr, type IpAddr, prefix_match } from "../../stack/addr.ts";
import { Stack } from "../../stack/stack.ts";
import { RaSender } from "../ra.ts";
import type { UdpSocketCore } from "../../stack/socket_core.ts";
import {
  checkForward,
  type DhcpSpec,
  formatForward,
  type ForwardSpec,
  type ResolvedGateway,
  validateGateway,
} from "./config.ts";
import { TCP_IDLE_DEFAULT_MS, TcpNat } from "./tcp_nat.ts";
import { UDP_IDLE_DEFAULT_MS, UdpNat } from "./udp_nat.ts";
import { Forward } from "./forwards.ts";
import { DhcpServer, type LeaseEvent } from "./dhcp_server.ts";
import { LeaseStore } from "./lease_store.ts";
import { DnsForwarder, hostNames } from "./dns_forwarder.ts";
import { formatMac, parseMac } from "../../core/mac.ts";
import { parse_addr } from "../../stack/addr.ts";

export type { ForwardSpec } from "./config.ts";

export interface GatewayOptions {
  /** The LAN (core/endpoint.ts); the CLI opens it by URL. */
  endpoint: Endpoint;
  /** e.g. "10.0.2.0/24" */
  cidr: string;
  /** Default: .2 of the cidr (slirp's 10.0.2.2); also the DNS address unless dnsAddr. */
  gatewayAddr?: string;
  /** Default: the gateway address. */
  dnsAddr?: string;
  /** e.g. "fd00:2::/64": gateway ::2, router advertisements. */
  ip6?: string;
  dhcp?: DhcpSpec | false;
  /** DNS forwarder on the DNS address. */
  dns?: boolean;
  /** Default true: connections to the gateway address go to the host's 127.0.0.1 / ::1. */
  hostLoopback?: boolean;
  forwards?: ForwardSpec[];
  mtu?: number;
  clock?: Clock;
  rng?: Rng;
  logger?: (level: string, msg: string, fields?: Record<string, unknown>) => void;
  /** Bound of the TCP connection table and, separately, of the UDP mapping table (default 4096). */
  maxConnections?: number;
  idleTimeoutMs?: { tcp?: number; udp?: number };
}

const POLL_MS = 500;

export class Gateway {
  readonly stack: Stack;
  readonly config: ResolvedGateway;
  readonly #opts: GatewayOptions;
  readonly #clock: Clock;
  readonly #log: (level: string, msg: string, fields?: Record<string, unknown>) => void;
  readonly #tcp: TcpNat;
  readonly #udp: UdpNat;
  readonly #ra: RaSender | undefined;
  readonly #dhcp: DhcpServer | undefined;
  readonly #dns: DnsForwarder | undefined;
  readonly #forwards = new Map<string, Forward>();
  readonly #drops = { icmpEchoForeign: 0 };
  #nextId = 1;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(
    opts: GatewayOptions,
    cfg: ResolvedGateway,
    rng: Rng,
    dhcp: DhcpServer | undefined,
    dns: DnsForwarder | undefined,
  ) {
    this.#opts = opts;
    this.config = cfg;
    this.#clock = opts.clock ?? systemClock;
    this.#dhcp = dhcp;
    this.#dns = dns;
    this.#log = opts.logger ?? (() => {});
    const inner = opts.endpoint;
    // The stack sees the LAN through a thin filter: RSs reach the RA sender, foreign echo requests
    // are dropped (see the module doc). Everything else passes untouched, synchronously.
    const lan: Endpoint = {
      url: inner.url,
      mtu: inner.mtu,
      send: (f) => inner.send(f),
      setSink: (sink: FrameSink) => inner.setSink((f) => this.#input(f, sink)),
      close: () => inner.close(),
      closed: inner.closed,
      stats: () => inner.stats(),
    };
    this.stack = new Stack({
      endpoint: lan,
      ipv4: { addr: cfg.gateway, prefix: cfg.prefix },
      ipv6: cfg.gateway6 ? [{ addr: cfg.gateway6, prefix: 64 }] : [],
      mtu: cfg.mtu,
      clock: this.#clock,
      rng,
    });
    if (!addr_equal(cfg.dns, cfg.gateway)) {
      this.stack.iface.addAddress({ addr: cfg.dns, prefix: cfg.prefix });
    }
    this.stack.iface.acceptAnyDestination = true;
    // The services bind their own ports, so the catch-alls never see DHCP or DNS.
    dhcp?.attach(this.stack.udp.bind(67));
    dns?.attach(this.stack.udp.bind(53, { addr: cfg.dns }));

    const max = opts.maxConnections ?? 4096;
    const target = (dst: IpAddr, port: number) => this.#target(dst, port);
    this.#tcp = new TcpNat(this.stack, {
      target,
      clock: this.#clock,
      maxConnections: max,
      idleMs: opts.idleTimeoutMs?.tcp ?? TCP_IDLE_DEFAULT_MS,
      log: this.#log,
    });
    this.#udp = new UdpNat(this.stack.udp.catchAll(), {
      target,
      clock: this.#clock,
      maxFlows: max,
      idleMs: opts.idleTimeoutMs?.udp ?? UDP_IDLE_DEFAULT_MS,
      log: this.#log,
      kick: () => this.stack.kick(),
    });
    if (cfg.net6) {
      const stack = this.stack;
      this.#ra = new RaSender({
        mac: stack.mac,
        prefix: { addr: cfg.net6, prefix: 64 },
        mtu: stack.iface.mtu6,
        source: () =>
          stack.iface.addresses().find((a) =>
            a.addr.length === 16 && a.addr[0] === 0xfe && (a.addr[1] & 0xc0) === 0x80 &&
            a.state === "preferred"
          )?.addr,
        send: (f) => inner.send(f),
        clock: this.#clock,
        rng,
        interval: 60,
        dns: dns && cfg.gateway6 ? [cfg.gateway6] : undefined,
      });
    }
  }

  /** Validate (a ConfigError and nothing started on bad input), then start. */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const cfg = validateGateway(opts);
    const frameMtu = opts.endpoint.mtu - 14;
    if (cfg.mtu !== undefined && cfg.mtu > frameMtu) {
      throw new ConfigError(
        `Invalid MTU "${cfg.mtu}": the LAN ${opts.endpoint.url} carries at most ${frameMtu}`,
      );
    }
    const clock = opts.clock ?? systemClock;
    const rng = opts.rng ?? new CryptoRng();
    // The services are built (and their input checked) before anything runs.
    let dhcp: DhcpServer | undefined;
    if (opts.dhcp) {
      const d = opts.dhcp;
      const store = d.leaseFile ? await LeaseStore.open(d.leaseFile) : LeaseStore.memory();
      dhcp = new DhcpServer({
        serverAddr: cfg.gateway,
        subnet: { addr: cfg.net, prefix: cfg.prefix },
        start: cfg.dhcp!.start,
        end: cfg.dhcp!.end,
        router: cfg.gateway,
        dns: opts.dns ? [cfg.dns] : undefined,
        domain: d.domain,
        mtu: d.mtu ?? cfg.mtu,
        leaseSeconds: d.leaseSeconds,
        reservations: (d.reservations ?? []).map((r) => ({
          mac: parseMac(r.mac)!,
          addr: parse_addr(r.addr)!,
          name: r.name,
        })),
        store,
        clock,
        rng,
      });
    }
    const dns = opts.dns
      ? new DnsForwarder({
        clock,
        rng,
        names: hostNames((label) => dhcp?.addrOf(label)),
      })
      : undefined;
    const gw = new Gateway(opts, cfg, rng, dhcp, dns);
    try {
      gw.#tcp.start();
      for (const f of opts.forwards ?? []) await gw.addForward(f);
    } catch (e) {
      await gw.close();
      throw e;
    }
    gw.#timer = setInterval(() => gw.#poll(), POLL_MS);
    gw.#poll();
    gw.#log("info", "gateway started", {
      lan: opts.endpoint.url,
      gateway: format_addr(cfg.gateway),
      ip6: cfg.gateway6 ? format_addr(cfg.gateway6) : undefined,
    });
    return gw;
  }

  /** Where a guest's destination goes on the host (undefined: refused). */
  #target(dst: IpAddr, port: number): { hostname: string; port: number } | undefined {
    const c = this.config, loop = this.#opts.hostLoopback !== false;
    if (dst.length === 4) {
      if (addr_equal(dst, c.gateway) || addr_equal(dst, c.dns)) {
        return loop ? { hostname: "127.0.0.1", port } : undefined;
      }
      // The rest of the LAN is not ours to reach; loopback, "this network" and multicast neither.
      if (prefix_match(dst, c.net, c.prefix) || dst[0] === 127 || dst[0] === 0 || dst[0] >= 224) {
        return undefined;
      }
      return { hostname: format_addr(dst), port };
    }
    if (c.gateway6 && addr_equal(dst, c.gateway6)) {
      return loop ? { hostname: "::1", port } : undefined;
    }
    if (c.net6 && prefix_match(dst, c.net6, 64)) return undefined;
    if (dst[0] === 0xff || (dst[0] === 0xfe && (dst[1] & 0xc0) === 0x80)) return undefined;
    if (dst.every((b, i) => b === (i === 15 ? 1 : 0))) return undefined; // ::1
    const v4mapped = dst.subarray(0, 12).every((b, i) => b === (i >= 10 ? 0xff : 0));
    if (v4mapped) return undefined;
    return { hostname: format_addr(dst), port };
  }

  #input(f: Uint8Array, sink: FrameSink): void {
    const n = f.length;
    if (f[12] === 0x08 && f[13] === 0x00 && n >= 34 && f[23] === 1) {
      const ihl = (f[14] & 15) * 4;
      if (n > 14 + ihl && f[14 + ihl] === 8) {
        const c = this.config;
        const d = f.subarray(30, 34);
        if (!addr_equal(d, c.gateway) && !addr_equal(d, c.dns)) {
          this.#drops.icmpEchoForeign++;
          return;
        }
      }
    } else if (f[12] === 0x86 && f[13] === 0xdd && n >= 55 && f[20] === 58) {
      if (f[54] === 128 && f[38] !== 0xff && !this.stack.iface.isLocal(f.subarray(38, 54))) {
        this.#drops.icmpEchoForeign++;
        return;
      }
      if (this.#ra?.observe(f)) this.#ra.poll(this.#clock.now());
    }
    sink(f);
  }

  /**
   * IPv6 guests learn the gateway's IPv6 address as their resolver from the RAs (RDNSS); DNS is
   * served there once duplicate address detection has made the address usable (RFC 4862 §5.4).
   */
  #bindDns6(): void {
    const a = this.config.gateway6;
    if (this.#dns6 || !this.#dns || !a || !this.stack.iface.isLocal(a)) return;
    this.#dns6 = this.stack.udp.bind(53, { addr: a });
    this.#dns.attach(this.#dns6);
  }
  #dns6: UdpSocketCore | undefined;

  #poll(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    try {
      this.#ra?.poll(now);
      this.#bindDns6();
      this.#dhcp?.poll(now);
      this.#dns?.poll(now);
      this.#tcp.poll(now);
      this.#udp.poll(now);
      for (const f of this.#forwards.values()) f.poll(now);
    } catch (e) {
      this.#log("error", "gateway poll failed", { error: String(e) });
    }
  }

  /**
   * Forward a host port into the LAN; returns its id. ConfigError for a bad spec, ConflictError
   * when the host port is forwarded already or taken on the host.
   */
  addForward(f: ForwardSpec): Promise<string> {
    try {
      checkForward(f, this.config);
      for (const o of this.#forwards.values()) {
        if (
          f.hostPort !== 0 && o.spec.proto === f.proto && o.spec.hostAddr === f.hostAddr &&
          o.hostPort === f.hostPort
        ) {
          throw new ConflictError(
            `Cannot add forward "${formatForward(f)}": forward ${o.id} has that host port`,
          );
        }
      }
      const id = `fwd${this.#nextId++}`;
      let fw: Forward;
      try {
        fw = new Forward(
          id,
          f,
          this.stack,
          this.#clock,
          this.#opts.idleTimeoutMs?.udp ?? UDP_IDLE_DEFAULT_MS,
          this.#log,
        );
      } catch (e) {
        if (e instanceof Deno.errors.AddrInUse) {
          throw new ConflictError(
            `Cannot add forward "${
              formatForward(f)
            }": ${f.hostAddr}:${f.hostPort} is in use on the host`,
          );
        }
        throw new ConfigError(
          `Cannot add forward "${formatForward(f)}": ${(e as Error).message.split("\n")[0]}`,
        );
      }
      this.#forwards.set(id, fw);
      this.#log("info", "forward added", { id, forward: formatForward(f) });
      return Promise.resolve(id);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Stop listening on the host port: new connections are refused. */
  removeForward(id: string): void {
    const f = this.#forwards.get(id);
    if (f === undefined) throw new NotFoundError(`No forward "${id}"`);
    f.close();
    this.#forwards.delete(id);
    this.#log("info", "forward removed", { id });
  }

  forwards(): Array<ForwardSpec & { id: string }> {
    return [...this.#forwards.values()].map((f) => ({
      ...f.spec,
      hostPort: f.hostPort,
      id: f.id,
    }));
  }

  /** DHCP bindings in force; `expiresAt` on the gateway's clock (ms). */
  leases(): Array<{ mac: string; addr: string; name?: string; expiresAt: number }> {
    return (this.#dhcp?.leases() ?? []).map((l) => ({
      mac: formatMac(l.mac),
      addr: format_addr(l.addr),
      ...(l.name !== undefined ? { name: l.name } : {}),
      expiresAt: l.expiresAt,
    }));
  }

  counters(): Record<string, unknown> {
    const forwards: Record<string, unknown> = {};
    for (const f of this.#forwards.values()) forwards[f.id] = { ...f.counters };
    return {
      stack: this.stack.counters(),
      tcpNat: { ...this.#tcp.stats },
      udpNat: { ...this.#udp.stats },
      ra: this.#ra
        ? { sent: this.#ra.stats.sent, solicitations: this.#ra.stats.solicitations }
        : undefined,
      forwards,
      dhcp: this.#dhcp ? { ...this.#dhcp.stats, drops: { ...this.#dhcp.drops } } : undefined,
      dns: this.#dns ? { ...this.#dns.stats, drops: { ...this.#dns.drops } } : undefined,
      drops: { ...this.#drops },
    };
  }

  /** Told of DHCP leases granted, released and expired (no-op without a DHCP server). */
  set onLease(fn: ((e: LeaseEvent) => void) | undefined) {
    if (this.#dhcp) this.#dhcp.onLease = fn;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const f of this.#forwards.values()) f.close();
    this.#forwards.clear();
    this.#ra?.stop();
    this.#dns?.close();
    this.#tcp.close();
    this.#udp.close();
    await this.stack.close();
  }
}
