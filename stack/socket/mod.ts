/**
 * The Deno-shaped socket API of the user-space stack: `listen`, `connect`, `listenDatagram` take
 * a SocketProvider (the Stack) first and otherwise follow `Deno.listen`, `Deno.connect` and
 * `Deno.listenDatagram`, returning objects with the same methods and errors.
 */

import type { IpAddr } from "../addr.ts";
import type { SocketProvider } from "./provider.ts";
import { check_port, parse_host } from "./host.ts";
import { StackConn } from "./tcp_conn.ts";
import { DEFAULT_BACKLOG, StackListener } from "./tcp_listener.ts";
import { DEFAULT_RECEIVE_QUEUE, StackDatagramConn } from "./udp_conn.ts";

export type { SocketProvider } from "./provider.ts";
export { StackConn } from "./tcp_conn.ts";
export { StackListener } from "./tcp_listener.ts";
export { StackDatagramConn } from "./udp_conn.ts";
export { addr_in_use, bad_resource, format_endpoint, tcp_error } from "./errors.ts";

export interface ListenOptions {
  port: number;
  /** Literal address to bind; omitted means every address (0.0.0.0 and ::). */
  hostname?: string;
  transport?: "tcp";
  /** Accept queue bound (listen(2) backlog). */
  backlog?: number;
}

export interface ConnectOptions {
  /** Literal IPv4/IPv6 address (no DNS yet). */
  hostname: string;
  port: number;
  transport?: "tcp";
}

export interface ListenDatagramOptions {
  port: number;
  hostname?: string;
  transport?: "udp";
  /** Receive queue bound in datagrams. */
  receiveQueue?: number;
}

function bind_addr(hostname: string | undefined, what: string): IpAddr | undefined {
  return hostname === undefined ? undefined : parse_host(hostname, what);
}

/** Listen for TCP connections, as `Deno.listen`. Throws AddrInUse when the port is taken. */
export function listen(p: SocketProvider, opts: ListenOptions): StackListener {
  const port = check_port(opts.port, "listen");
  const backlog = opts.backlog ?? DEFAULT_BACKLOG;
  const core = p.tcpListen(port, bind_addr(opts.hostname, "listen"), backlog);
  return new StackListener(core, backlog);
}

/**
 * Open a TCP connection, as `Deno.connect`; resolves after the handshake. Rejects with
 * ConnectionRefused, TimedOut, NetworkUnreachable… (`Deno.errors`) naming the peer, or a
 * TypeError for a hostname that is not a literal address.
 */
export function connect(p: SocketProvider, opts: ConnectOptions): Promise<StackConn> {
  try {
    const dst = parse_host(opts.hostname, "connect");
    const port = check_port(opts.port, "connect", 1);
    return StackConn.connected(p.tcpConnect(dst, port));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Bind a UDP socket, as `Deno.listenDatagram`. */
export function listenDatagram(p: SocketProvider, opts: ListenDatagramOptions): StackDatagramConn {
  const port = check_port(opts.port, "listenDatagram");
  const core = p.udpBind(port, bind_addr(opts.hostname, "listenDatagram"));
  return new StackDatagramConn(core, opts.receiveQueue ?? DEFAULT_RECEIVE_QUEUE);
}
