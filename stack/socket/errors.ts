/**
 * Errors of the Deno-shaped socket API. Programs written against `Deno.connect` catch
 * `Deno.errors.ConnectionRefused` and friends; a stack socket throws the same classes, with a
 * message naming the peer ("Connection refused: 10.0.0.2:80"), so code moves between the host's
 * sockets and a stack's without change.
 */

import type { IpAddr } from "../addr.ts";
import { format_addr } from "../addr.ts";
import type { TcpErrorKind } from "../socket_core.ts";
import { hostPort } from "../../core/host_port.ts";

/** "10.0.0.2:80" or "[fd00::2]:80" (RFC 3986 §3.2.2 brackets for IPv6). */
export function format_endpoint(addr: IpAddr | string, port: number): string {
  return hostPort(typeof addr === "string" ? addr : format_addr(addr), port);
}

/** The `Deno.errors` instance for an engine's failure kind. */
export function tcp_error(kind: TcpErrorKind, endpoint: string): Error {
  switch (kind) {
    case "refused":
      return new Deno.errors.ConnectionRefused(`Connection refused: ${endpoint}`);
    case "reset":
      return new Deno.errors.ConnectionReset(`Connection reset by peer: ${endpoint}`);
    case "timeout":
      return new Deno.errors.TimedOut(`Connection timed out: ${endpoint}`);
    case "unreachable":
      return new Deno.errors.NetworkUnreachable(`Network unreachable: ${endpoint}`);
    case "aborted":
      return new Deno.errors.ConnectionAborted(`Connection aborted: ${endpoint}`);
  }
}

/** Use of a socket after `close()` (Deno says BadResource for a closed resource id). */
export function bad_resource(what: string): Error {
  return new Deno.errors.BadResource(`${what} is closed`);
}

/** The connection can no longer carry data in that direction (closed, or half-closed by us). */
export function not_connected(endpoint: string, why: string): Error {
  return new Deno.errors.NotConnected(`Not connected (${why}): ${endpoint}`);
}

/**
 * For SocketProvider implementations: a port already taken. The provider throws it from
 * `tcpListen`/`udpBind` so that `listen()` surfaces the same class as `Deno.listen`.
 */
export function addr_in_use(transport: "tcp" | "udp", addr: IpAddr | string, port: number): Error {
  return new Deno.errors.AddrInUse(
    `Address already in use (${transport}): ${format_endpoint(addr, port)}`,
  );
}
