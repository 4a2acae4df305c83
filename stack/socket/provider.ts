/**
 * What the socket API needs from a stack: open listeners, connections and datagram sockets on
 * the protocol engines. The Stack implements it; tests use an in-memory fake (fake_core.ts).
 *
 * Contract for implementers:
 * - `tcpListen`/`udpBind` throw `addr_in_use(...)` (a `Deno.errors.AddrInUse`) when the port is
 *   taken; port 0 picks an ephemeral port, reported through the core's `localPort`.
 * - `addr` undefined means every local address (0.0.0.0 / ::).
 * - `tcpConnect` returns a core in SYN-SENT (or already failed/ESTABLISHED); the outcome arrives
 *   through its events. It may emit events synchronously before returning, so the socket layer
 *   re-reads `state`/`error` right after attaching its listener.
 */

import type { IpAddr } from "../addr.ts";
import type { TcpListenerCore, TcpSocketCore, UdpSocketCore } from "../socket_core.ts";

export interface SocketProvider {
  tcpListen(port: number, addr?: IpAddr, backlog?: number): TcpListenerCore;
  tcpConnect(dst: IpAddr, port: number): TcpSocketCore;
  udpBind(port: number, addr?: IpAddr): UdpSocketCore;
}
