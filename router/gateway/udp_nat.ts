/**
 * UDP NAT to the host's sockets: every datagram a guest sends to an address/port nobody on the
 * gateway listens to reaches the UDP catch-all (stack/udp.ts) with its original destination,
 * and leaves through a host socket (`Deno.listenDatagram`, port 0) that belongs to the guest's
 * (address, port) — endpoint-independent mapping (RFC 4787 REQ-1), so a guest talking to several
 * peers from one port keeps one host port. Replies are accepted only from the destinations that
 * guest sent to (address- and port-dependent filtering, RFC 4787 REQ-8's safer choice) and are
 * sent to the guest from the address it used (the gateway's address stays the gateway's address
 * when the host's loopback answered).
 *
 * A mapping ends after `idleMs` without traffic in either direction (RFC 4787 REQ-5: at least
 * 2 min; 5 min by default). At most `maxFlows` mappings; datagrams beyond are dropped and counted.
 */

import type { Clock } from "../../core/clock.ts";
import { format_addr, type IpAddr, parse_addr } from "../../stack/addr.ts";
import type { UdpCatchAll } from "../../stack/udp.ts";
import type { HostTarget } from "./tcp_nat.ts";

export interface UdpNatOptions {
  target: HostTarget;
  clock: Clock;
  maxFlows: number;
  idleMs: number;
  log: (level: string, msg: string, fields?: Record<string, unknown>) => void;
  /** Called after sending toward the guest from outside the packet path (the stack's kick). */
  kick: () => void;
}

export const UDP_IDLE_DEFAULT_MS = 300_000;
/** Datagrams waiting for the host socket per mapping; beyond that they are dropped. */
const MAX_PENDING = 256;

interface Mapping {
  key: string;
  guestAddr: IpAddr;
  guestPort: number;
  sock: Deno.DatagramConn;
  /** "hostaddr|port" → the destination the guest used. */
  peers: Map<string, { addr: IpAddr; port: number }>;
  lastActive: number;
  pending: number;
  closed: boolean;
}

export class UdpNat {
  readonly stats = {
    flows: 0,
    flowsOpened: 0,
    toHost: 0,
    toGuest: 0,
    dropFull: 0,
    dropPolicy: 0,
    dropPending: 0,
    dropUnknownPeer: 0,
    hostErrors: 0,
    idleClosed: 0,
  };
  readonly #all: UdpCatchAll;
  readonly #o: UdpNatOptions;
  readonly #maps = new Map<string, Mapping>();

  constructor(all: UdpCatchAll, o: UdpNatOptions) {
    this.#all = all;
    this.#o = o;
    all.onDatagram = (data, src, sport, dst, dport) =>
      this.#fromGuest(data, src, sport, dst, dport);
  }

  #fromGuest(data: Uint8Array, src: IpAddr, sport: number, dst: IpAddr, dport: number): void {
    const target = this.#o.target(dst, dport);
    if (target === undefined) return void this.stats.dropPolicy++;
    const key = `${format_addr(src)}|${sport}`;
    let m = this.#maps.get(key);
    if (m === undefined) {
      if (this.#maps.size >= this.#o.maxFlows) return void this.stats.dropFull++;
      let sock: Deno.DatagramConn;
      try {
        sock = Deno.listenDatagram({
          transport: "udp",
          hostname: src.length === 4 ? "0.0.0.0" : "::",
          port: 0,
        });
      } catch (e) {
        this.stats.hostErrors++;
        this.#o.log("warn", "cannot open a host UDP socket", { error: String(e) });
        return;
      }
      m = {
        key,
        guestAddr: src.slice(),
        guestPort: sport,
        sock,
        peers: new Map(),
        lastActive: this.#o.clock.now(),
        pending: 0,
        closed: false,
      };
      this.#maps.set(key, m);
      this.stats.flows = this.#maps.size;
      this.stats.flowsOpened++;
      this.#receive(m);
    }
    const hostAddr = parse_addr(target.hostname)!;
    m.peers.set(`${format_addr(hostAddr)}|${target.port}`, { addr: dst.slice(), port: dport });
    if (m.pending >= MAX_PENDING) return void this.stats.dropPending++;
    m.lastActive = this.#o.clock.now();
    m.pending++;
    this.stats.toHost++;
    const mm = m;
    // Copied: the datagram is borrowed from the frame buffer.
    mm.sock.send(data.slice(), { transport: "udp", hostname: target.hostname, port: target.port })
      .catch((e) => {
        this.stats.hostErrors++;
        this.#o.log("debug", "host UDP send failed", { error: String(e) });
      })
      .finally(() => mm.pending--);
  }

  async #receive(m: Mapping): Promise<void> {
    try {
      for (;;) {
        const [data, addr] = await m.sock.receive();
        const a = addr as Deno.NetAddr;
        const peer = m.peers.get(`${format_addr(parse_addr(a.hostname)!)}|${a.port}`);
        if (peer === undefined) {
          this.stats.dropUnknownPeer++;
          continue;
        }
        m.lastActive = this.#o.clock.now();
        this.stats.toGuest++;
        this.#all.sendFrom(data, peer.addr, peer.port, m.guestAddr, m.guestPort);
        this.#o.kick();
      }
    } catch (e) {
      if (!m.closed) {
        this.stats.hostErrors++;
        this.#o.log("debug", "host UDP socket failed", { error: String(e) });
        this.#end(m);
      }
    }
  }

  #end(m: Mapping): void {
    if (m.closed) return;
    m.closed = true;
    this.#maps.delete(m.key);
    this.stats.flows = this.#maps.size;
    try {
      m.sock.close();
    } catch { /* closed */ }
  }

  /** End mappings idle for longer than the timeout. */
  poll(now: number): void {
    for (const m of this.#maps.values()) {
      if (now - m.lastActive >= this.#o.idleMs) {
        this.stats.idleClosed++;
        this.#end(m);
      }
    }
  }

  close(): void {
    for (const m of [...this.#maps.values()]) this.#end(m);
    this.#all.close();
  }
}
