/**
 * A unix datagram socket that Deno's own event loop watches, with its descriptor at hand for
 * batched FFI calls (`connect`, `recvmmsg`, `sendmmsg`).
 *
 * Why: readiness through the FFI poller costs a hop to a worker thread and back per wake-up, and
 * in a VM a context switch is most of the cost of a frame (perf here: ~50 % of the switch's CPU in
 * the scheduler at 0.4 Gbit/s). A socket from `Deno.listenDatagram` is registered in the main
 * thread's epoll, so `await conn.receive()` wakes the JS thread directly — one wake-up per burst,
 * as in vde_switch's poll loop — and the rest of the burst is drained with `recvmmsg`.
 *
 * Deno does not expose descriptors, so the socket's is found by its inode: /proc/net/unix maps
 * the bound path to the inode, and /proc/self/fd/N links to `socket:[inode]`.
 */

import { ConfigError } from "../core/errors.ts";

export interface BoundDgram {
  conn: Deno.DatagramConn;
  fd: number;
  path: string;
}

/** Bind a unix datagram socket at `path` (Deno.listenDatagram; needs --unstable-net). */
export function bindDgram(path: string): BoundDgram {
  const conn = Deno.listenDatagram({ transport: "unixpacket", path });
  const fd = fdOfUnixSocket(path);
  if (fd === undefined) {
    conn.close();
    throw new ConfigError(`Cannot find the descriptor of the datagram socket ${path}`);
  }
  return { conn, fd, path };
}

/** The descriptor of this process's unix socket bound at `path`, or undefined. */
export function fdOfUnixSocket(path: string): number | undefined {
  // /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path", path last.
  let inode: string | undefined;
  for (const line of Deno.readTextFileSync("/proc/net/unix").split("\n")) {
    if (line.endsWith(` ${path}`)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length >= 8 && fields.slice(7).join(" ") === path) inode = fields[6];
    }
  }
  return inode === undefined ? undefined : fdOfSocketInode(inode);
}

/** This process's descriptor of the socket with that inode (/proc/self/fd/N → socket:[inode]). */
export function fdOfSocketInode(inode: string): number | undefined {
  const target = `socket:[${inode}]`;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === target) return Number(e.name);
    } catch {
      // closed between readdir and readlink
    }
  }
  return undefined;
}
