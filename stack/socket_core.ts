/**
 * The seam between the protocol engines (stack/tcp, stack/udp) and the Deno-shaped socket API
 * (stack/socket). Engines are synchronous and driven by packets and deadlines; the socket layer
 * turns their events into promises. Keeping this seam small is what lets a TCP connection's state
 * be plain data (a later issue moves it between hosts).
 */

import type { IpAddr } from "./addr.ts";

/** RFC 9293 §3.3.2 state names. */
export type TcpStateName =
  | "CLOSED"
  | "LISTEN"
  | "SYN-SENT"
  | "SYN-RECEIVED"
  | "ESTABLISHED"
  | "FIN-WAIT-1"
  | "FIN-WAIT-2"
  | "CLOSE-WAIT"
  | "CLOSING"
  | "LAST-ACK"
  | "TIME-WAIT";

/** Why a connection ended abnormally; the socket layer maps these to `Deno.errors.*`. */
export type TcpErrorKind = "refused" | "reset" | "timeout" | "unreachable" | "aborted";

/**
 * Events an engine reports synchronously. `readable`: data or EOF can be read; `writable`: send
 * buffer space freed; `established`: handshake done (connect resolved); `closed`: the connection
 * is gone (after `error` if it failed).
 */
export type TcpEvent = "readable" | "writable" | "established" | "closed" | "error";

export interface TcpSocketCore {
  readonly state: TcpStateName;
  readonly localAddr: IpAddr;
  readonly localPort: number;
  readonly remoteAddr: IpAddr;
  readonly remotePort: number;
  /** Set when the connection failed; stays set. */
  readonly error: TcpErrorKind | undefined;
  /**
   * Copy received bytes into `into`. Returns the count (> 0), 0 when nothing is buffered yet, or
   * -1 at end of stream (the peer's FIN was reached and everything before it was read).
   */
  recv(into: Uint8Array): number;
  /** Queue bytes for sending. Returns how many were accepted (0 when the send buffer is full). */
  send(from: Uint8Array): number;
  /** Send FIN after the queued data (half close). */
  shutdownWrite(): void;
  /** Close both directions: FIN after queued data; RST when received data is left unread (RFC 9293 §3.6.1, RFC 1122 §4.2.2.13). */
  close(): void;
  /** Send RST and drop the connection now. */
  abort(): void;
  /** Nagle's algorithm (on by default, RFC 1122 §4.2.3.4); false sends small segments at once. */
  setNoDelay(on: boolean): void;
  /** Keepalive probes after `idleMs` of silence (RFC 1122 §4.2.3.6); 0 turns them off. */
  setKeepAlive(idleMs: number): void;
  /** The single event listener (the socket layer), replaced on each call. */
  onEvent: ((ev: TcpEvent) => void) | undefined;
}

export interface TcpListenerCore {
  readonly localAddr: IpAddr;
  readonly localPort: number;
  /** Called for each connection that completed the handshake; the core is ESTABLISHED. */
  onAccept: ((conn: TcpSocketCore) => void) | undefined;
  /** Stop listening; connections not yet accepted are reset. */
  close(): void;
}

export interface UdpSocketCore {
  readonly localAddr: IpAddr;
  readonly localPort: number;
  /** Send one datagram. Returns false when dropped (no route, too big; counted). */
  sendTo(data: Uint8Array, dst: IpAddr, dstPort: number): boolean;
  /** Receives each datagram (borrowed views; copy to keep). */
  onDatagram: ((data: Uint8Array, src: IpAddr, srcPort: number) => void) | undefined;
  close(): void;
}
