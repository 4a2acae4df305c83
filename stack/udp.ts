/**
 * UDP (RFC 768) over an `Iface`, IPv4 and IPv6: port demultiplexing, checksums (RFC 768; over
 * IPv6 mandatory, RFC 8200 §8.1), ICMP port unreachable for datagrams nobody listens to
 * (RFC 1122 §4.1.3.1), and single-copy output through the interface's `tx` buffer.
 *
 * Binding: a socket has a port and either a specific local address or a wildcard — `0.0.0.0`
 * (IPv4 only) or `::` / none (both families, like a dual-stack Linux socket). Two sockets may
 * share a port only with different specific addresses. A unicast datagram goes to the most
 * specific match; a broadcast or multicast one to every match.
 *
 * `anyDst` is for the DHCP client (RFC 2131 §4.1): such a socket also receives IPv4 datagrams to
 * its port whatever their destination address — broadcast, or unicast to the address being
 * offered, which the interface does not own yet.
 *
 * `catchAll()` is for a slirp-like gateway (the interface's `acceptAnyDestination`): it receives
 * every unicast datagram no socket took — to any address and port, with that destination — and
 * answers from an arbitrary source address and port (the guest's original destination), so a
 * guest's flow to anywhere ends in the gateway and is relayed to a host socket.
 */

import { addr_equal, addr_v4, type IpAddr, is_unspecified, unspecified } from "./addr.ts";
import type { IcmpErrorKind, TransportInput } from "./ip_io.ts";
import { TX_HEADROOM, TX_MAX_SEGMENT } from "./ip_io.ts";
import type { UdpSocketCore } from "./socket_core.ts";
import type { Iface } from "./iface/iface.ts";
import {
  emit_udp,
  IP_PROTO_UDP,
  pseudo_sum_ipv4,
  pseudo_sum_ipv6_addrs,
  UDP_HEADER_LEN,
  UdpView,
} from "./wire/mod.ts";

export interface UdpBindOptions {
  /** Local address; absent or `::` = any (both families), `0.0.0.0` = any IPv4. */
  addr?: IpAddr;
  /** Also receive IPv4 datagrams to this port addressed to any destination (DHCP client). */
  anyDst?: boolean;
}

/** RFC 6335 §6: the dynamic / private port range used for ephemeral ports. */
export const EPHEMERAL_MIN = 49152;
export const EPHEMERAL_MAX = 65535;

/** The gateway's receiver of datagrams nobody else takes (see the module doc). */
export interface UdpCatchAll {
  /** Each datagram (borrowed views: copy to keep) with its original destination. */
  onDatagram:
    | ((data: Uint8Array, src: IpAddr, srcPort: number, dst: IpAddr, dstPort: number) => void)
    | undefined;
  /** Send one datagram from `src`:`srcPort` (any address, e.g. a guest's original destination). */
  sendFrom(data: Uint8Array, src: IpAddr, srcPort: number, dst: IpAddr, dstPort: number): boolean;
  close(): void;
}

const UDP_DROP: Record<string, string> = {
  truncated: "udp_truncated",
  bad_length: "udp_bad_length",
  bad_checksum: "udp_bad_checksum",
};

const V4_BROADCAST = new Uint8Array([255, 255, 255, 255]);

class UdpSocket implements UdpSocketCore {
  readonly localAddr: IpAddr;
  readonly localPort: number;
  /** The specific address bound, or undefined for a wildcard. */
  readonly addr: IpAddr | undefined;
  /** 4 or 6 when limited to a family, 0 for both. */
  readonly family: 0 | 4 | 6;
  readonly anyDst: boolean;
  onDatagram: ((data: Uint8Array, src: IpAddr, srcPort: number) => void) | undefined;
  /** An ICMP error about a datagram this socket sent (RFC 1122 §4.1.3.3: passed up). */
  onError: ((kind: IcmpErrorKind, dst: IpAddr, dstPort: number) => void) | undefined;
  closed = false;
  readonly #engine: UdpEngine;

  constructor(engine: UdpEngine, port: number, addr: IpAddr | undefined, anyDst: boolean) {
    this.#engine = engine;
    this.localPort = port;
    this.anyDst = anyDst;
    if (addr === undefined || is_unspecified(addr)) {
      this.addr = undefined;
      this.family = addr?.length === 4 ? 4 : 0;
      this.localAddr = unspecified(this.family === 4 ? 4 : 6);
    } else {
      this.addr = addr.slice();
      this.family = addr.length === 4 ? 4 : 6;
      this.localAddr = addr.slice();
    }
  }

  sendTo(data: Uint8Array, dst: IpAddr, dstPort: number): boolean {
    return this.#engine.send(this, data, dst, dstPort);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#engine.unbind(this);
  }

  /** Whether a datagram to `dst` of this family may be delivered to this socket. */
  accepts(dst: IpAddr): boolean {
    if (this.family !== 0 && this.family !== (dst.length === 4 ? 4 : 6)) return false;
    return this.addr === undefined || addr_equal(this.addr, dst);
  }
}

export class UdpEngine implements TransportInput {
  readonly drops: Record<string, number> = {};
  readonly stats = { datagramsIn: 0, datagramsOut: 0, icmpErrors: 0 };
  readonly #iface: Iface;
  readonly #ports = new Map<number, UdpSocket[]>();
  readonly #view = new UdpView();
  #anyDst = 0;
  #nextEphemeral: number;
  #catchAll: UdpCatchAll | undefined;

  /** Registers itself as the interface's protocol 17. */
  constructor(iface: Iface) {
    this.#iface = iface;
    // RFC 6056 §3.3.1-style: a random starting point, then sequential search.
    this.#nextEphemeral = EPHEMERAL_MIN + iface.rng.below(EPHEMERAL_MAX - EPHEMERAL_MIN + 1);
    iface.registerTransport(IP_PROTO_UDP, this);
  }

  #drop(reason: string): false {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    return false;
  }

  /**
   * Bind a socket. Port 0 picks an ephemeral port (49152–65535). Throws `Deno.errors.AddrInUse`
   * when the port (for an overlapping address) is taken, `Deno.errors.AddrNotAvailable` for a
   * specific address the interface does not have.
   */
  bind(port: number, opts: UdpBindOptions = {}): UdpSocketCore {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`Cannot bind UDP port ${port}: expected an integer 0-65535`);
    }
    const addr = opts.addr;
    if (addr !== undefined && !is_unspecified(addr) && !this.#iface.isLocal(addr)) {
      throw new Deno.errors.AddrNotAvailable(
        `Cannot bind UDP to an address this interface does not have (${addr.join(".")})`,
      );
    }
    if (port === 0) {
      const n = EPHEMERAL_MAX - EPHEMERAL_MIN + 1;
      for (let i = 0; i < n; i++) {
        const p = this.#nextEphemeral;
        this.#nextEphemeral = p === EPHEMERAL_MAX ? EPHEMERAL_MIN : p + 1;
        if (!this.#ports.has(p)) {
          port = p;
          break;
        }
      }
      if (port === 0) throw new Deno.errors.AddrInUse("Cannot bind UDP: no ephemeral port free");
    }
    const s = new UdpSocket(this, port, addr, opts.anyDst === true);
    const list = this.#ports.get(port) ?? [];
    for (const o of list) {
      const families = o.family === 0 || s.family === 0 || o.family === s.family;
      if (
        families && (o.addr === undefined || s.addr === undefined || addr_equal(o.addr, s.addr))
      ) {
        throw new Deno.errors.AddrInUse(`Cannot bind UDP port ${port}: address in use`);
      }
    }
    list.push(s);
    this.#ports.set(port, list);
    if (s.anyDst) {
      this.#anyDst++;
      this.#iface.acceptAnyDstUdp4 = true;
    }
    return s;
  }

  /**
   * The catch-all receiver (one per engine; throws AddrInUse for a second). Datagrams to a port
   * and address no socket accepts go to it instead of an ICMP port unreachable; broadcast and
   * multicast ones never do.
   */
  catchAll(): UdpCatchAll {
    if (this.#catchAll !== undefined) {
      throw new Deno.errors.AddrInUse("Cannot open a UDP catch-all: one is open already");
    }
    // deno-lint-ignore no-this-alias
    const engine = this;
    const c: UdpCatchAll = {
      onDatagram: undefined,
      sendFrom(data, src, srcPort, dst, dstPort) {
        if (engine.#catchAll !== c) return engine.#drop("closed");
        if (src.length !== dst.length || !(srcPort >= 1 && srcPort <= 65535)) {
          return engine.#drop("bad_source");
        }
        return engine.#emit(src, srcPort, data, dst, dstPort);
      },
      close() {
        if (engine.#catchAll === c) engine.#catchAll = undefined;
      },
    };
    this.#catchAll = c;
    return c;
  }

  /** Bound sockets (ports) — for the API and tests. */
  ports(): number[] {
    return [...this.#ports.keys()];
  }

  /** @internal Called by `UdpSocket.close`. */
  unbind(s: UdpSocket): void {
    const list = this.#ports.get(s.localPort);
    if (list === undefined) return;
    const rest = list.filter((o) => o !== s);
    if (rest.length === 0) this.#ports.delete(s.localPort);
    else this.#ports.set(s.localPort, rest);
    if (s.anyDst && --this.#anyDst === 0) this.#iface.acceptAnyDstUdp4 = false;
  }

  /** @internal Called by `UdpSocket.sendTo`: one datagram, copied once into the interface's `tx`. */
  send(s: UdpSocket, data: Uint8Array, dst: IpAddr, dstPort: number): boolean {
    if (s.closed) return this.#drop("closed");
    if ((dst.length !== 4 && dst.length !== 16) || !(dstPort >= 1 && dstPort <= 65535)) {
      return this.#drop("bad_destination");
    }
    if (s.family !== 0 && s.family !== (dst.length === 4 ? 4 : 6)) return this.#drop("family");
    let src = s.addr ?? this.#iface.sourceFor(dst);
    if (src === undefined) {
      // No IPv4 address yet: a limited broadcast still goes out, from 0.0.0.0 (RFC 2131 §4.1).
      if (dst.length === 4 && addr_equal(dst, V4_BROADCAST)) src = unspecified(4);
      else return this.#drop("no_route");
    }
    return this.#emit(src, s.localPort, data, dst, dstPort);
  }

  #emit(src: IpAddr, srcPort: number, data: Uint8Array, dst: IpAddr, dstPort: number): boolean {
    if ((dst.length !== 4 && dst.length !== 16) || !(dstPort >= 1 && dstPort <= 65535)) {
      return this.#drop("bad_destination");
    }
    const len = UDP_HEADER_LEN + data.length;
    if (len > TX_MAX_SEGMENT) return this.#drop("too_big");
    const iface = this.#iface;
    const tx = iface.tx;
    tx.set(data, TX_HEADROOM + UDP_HEADER_LEN);
    const sum = dst.length === 4
      ? pseudo_sum_ipv4(addr_v4(src), addr_v4(dst), IP_PROTO_UDP)
      : pseudo_sum_ipv6_addrs(src, dst, IP_PROTO_UDP);
    emit_udp(tx, TX_HEADROOM, srcPort, dstPort, data.length, sum);
    this.stats.datagramsOut++;
    return iface.sendIp(src, dst, IP_PROTO_UDP, len);
  }

  input(
    src: IpAddr,
    dst: IpAddr,
    buf: Uint8Array,
    off: number,
    len: number,
    broadcast: boolean,
  ): void {
    const v6 = dst.length === 16;
    const sum = v6
      ? pseudo_sum_ipv6_addrs(src, dst, IP_PROTO_UDP)
      : pseudo_sum_ipv4(addr_v4(src), addr_v4(dst), IP_PROTO_UDP);
    const u = this.#view;
    const r = u.reset(buf, off, len, sum, v6);
    if (r !== "ok") return void this.#drop(UDP_DROP[r]);
    const list = this.#ports.get(u.dst_port);
    // A datagram to an address that is neither ours nor a broadcast reached us only for the
    // anyDst sockets (the interface's acceptAnyDstUdp4).
    const foreign = broadcast && !v6 && !this.#iface.isBroadcast(dst) && !this.#iface.isLocal(dst);
    const data = buf.subarray(u.payload_offset, u.payload_offset + u.payload_len);
    const sport = u.src_port;
    let best: UdpSocket | undefined, delivered = 0;
    if (list !== undefined) {
      for (const s of list) {
        const ok = foreign ? s.anyDst : (s.accepts(dst) || (s.anyDst && !v6));
        if (!ok) continue;
        if (broadcast) {
          delivered++;
          this.stats.datagramsIn++;
          s.onDatagram?.(data, src, sport);
        } else if (best === undefined || (best.addr === undefined && s.addr !== undefined)) {
          best = s;
        }
      }
      if (delivered > 0) return;
    }
    if (best !== undefined) {
      this.stats.datagramsIn++;
      best.onDatagram?.(data, src, sport);
      return;
    }
    const all = this.#catchAll;
    if (all !== undefined && (!broadcast || foreign)) {
      this.stats.datagramsIn++;
      all.onDatagram?.(data, src, sport, dst, u.dst_port);
      return;
    }
    this.#drop("no_socket");
    if (broadcast) return; // RFC 1122 §4.1.3.1: never for broadcast / multicast
    const pkt = this.#iface.inputPacket;
    if (pkt !== undefined) this.#iface.sendIcmpError("port_unreachable", pkt);
  }

  icmpError(kind: IcmpErrorKind, _src: IpAddr, dst: IpAddr, quote: Uint8Array): void {
    if (quote.length < 4) return void this.#drop("icmp_short_quote");
    this.stats.icmpErrors++;
    const sport = (quote[0] << 8) | quote[1], dport = (quote[2] << 8) | quote[3];
    const list = this.#ports.get(sport);
    if (list === undefined) return;
    for (const s of list) {
      if (s.family === 0 || s.family === (dst.length === 4 ? 4 : 6)) {
        s.onError?.(kind, dst, dport);
        return;
      }
    }
  }
}
