/**
 * Port forwards from the host into the LAN (slirp's hostfwd): a host socket listens on
 * HOSTADDR:HOSTPORT and each TCP connection is relayed to GUESTADDR:GUESTPORT through the
 * gateway's stack (the guest sees it coming from the gateway's address); for UDP, each host peer
 * gets a stack socket of its own toward the guest (so replies find their way back), ended after
 * the idle timeout. Removing a forward closes its host listener: new connections are refused by
 * the host's kernel; connections already relayed carry on until they end.
 */

import type { Clock } from "../../core/clock.ts";
import type { Stack } from "../../stack/stack.ts";
import type { UdpSocketCore } from "../../stack/socket_core.ts";
import { parse_addr } from "../../stack/addr.ts";
import { connect } from "../../stack/socket/mod.ts";
import { relay } from "../../stack/socket/relay.ts";
import { formatForward, type ForwardSpec } from "./config.ts";

export interface ForwardCounters {
  accepted: number;
  guestConnectFailed: number;
  active: number;
  datagramsIn: number;
  datagramsOut: number;
  drops: number;
}

const MAX_UDP_PEERS = 1024;

export class Forward {
  readonly id: string;
  readonly spec: ForwardSpec;
  readonly counters: ForwardCounters = {
    accepted: 0,
    guestConnectFailed: 0,
    active: 0,
    datagramsIn: 0,
    datagramsOut: 0,
    drops: 0,
  };
  #listener: Deno.TcpListener | undefined;
  #dgram: Deno.DatagramConn | undefined;
  #peers = new Map<string, { sock: UdpSocketCore; lastActive: number }>();
  #closed = false;
  readonly #stack: Stack;
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #log: (level: string, msg: string, fields?: Record<string, unknown>) => void;

  /** Opens the host socket now (throws AddrInUse / PermissionDenied from Deno as they are). */
  constructor(
    id: string,
    spec: ForwardSpec,
    stack: Stack,
    clock: Clock,
    udpIdleMs: number,
    log: (level: string, msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.id = id;
    this.spec = { ...spec };
    this.#stack = stack;
    this.#clock = clock;
    this.#idleMs = udpIdleMs;
    this.#log = log;
    if (spec.proto === "tcp") {
      this.#listener = Deno.listen({ hostname: spec.hostAddr, port: spec.hostPort });
      this.#acceptLoop(this.#listener);
    } else {
      this.#dgram = Deno.listenDatagram({
        transport: "udp",
        hostname: spec.hostAddr,
        port: spec.hostPort,
      });
      this.#udpLoop(this.#dgram);
    }
  }

  /** The host port actually bound (differs from the spec when it asked for port 0). */
  get hostPort(): number {
    const a = (this.#listener?.addr ?? this.#dgram?.addr) as Deno.NetAddr | undefined;
    return a?.port ?? this.spec.hostPort;
  }

  async #acceptLoop(l: Deno.TcpListener): Promise<void> {
    for (;;) {
      let host: Deno.TcpConn;
      try {
        host = await l.accept();
      } catch (e) {
        if (!this.#closed) this.#log("warn", "forward listener failed", { error: String(e) });
        return;
      }
      this.counters.accepted++;
      this.#relayTcp(host);
    }
  }

  async #relayTcp(host: Deno.TcpConn): Promise<void> {
    host.setNoDelay(true);
    let guest;
    try {
      guest = await connect(this.#stack, {
        hostname: this.spec.guestAddr,
        port: this.spec.guestPort,
      });
    } catch (e) {
      this.counters.guestConnectFailed++;
      this.#log("debug", "forward: guest connect failed", {
        forward: formatForward(this.spec),
        error: (e as Error).name,
      });
      host.close();
      return;
    }
    this.counters.active++;
    try {
      await relay(host, guest);
    } finally {
      this.counters.active--;
    }
  }

  async #udpLoop(d: Deno.DatagramConn): Promise<void> {
    const guestAddr = parse_addr(this.spec.guestAddr)!;
    for (;;) {
      let data: Uint8Array, addr: Deno.Addr;
      try {
        [data, addr] = await d.receive();
      } catch (e) {
        if (!this.#closed) this.#log("warn", "forward socket failed", { error: String(e) });
        return;
      }
      this.counters.datagramsIn++;
      const peer = addr as Deno.NetAddr;
      const key = `${peer.hostname}|${peer.port}`;
      let p = this.#peers.get(key);
      if (p === undefined) {
        if (this.#peers.size >= MAX_UDP_PEERS) {
          this.counters.drops++;
          continue;
        }
        const sock = this.#stack.udp.bind(0);
        sock.onDatagram = (reply) => {
          this.counters.datagramsOut++;
          p!.lastActive = this.#clock.now();
          d.send(reply.slice(), peer).catch(() => this.counters.drops++);
        };
        p = { sock, lastActive: this.#clock.now() };
        this.#peers.set(key, p);
      }
      p.lastActive = this.#clock.now();
      if (!p.sock.sendTo(data, guestAddr, this.spec.guestPort)) this.counters.drops++;
      this.#stack.kick();
    }
  }

  /** End UDP peers idle longer than the timeout. */
  poll(now: number): void {
    for (const [k, p] of this.#peers) {
      if (now - p.lastActive >= this.#idleMs) {
        p.sock.close();
        this.#peers.delete(k);
      }
    }
  }

  /** Stop listening; relayed TCP connections carry on until they end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener?.close();
    } catch { /* closed */ }
    try {
      this.#dgram?.close();
    } catch { /* closed */ }
    for (const p of this.#peers.values()) p.sock.close();
    this.#peers.clear();
  }
}
