/**
 * UDP sockets owned by Deno with their descriptor at hand for batched FFI calls (`sendmmsg`,
 * `recvmmsg`), and the `struct sockaddr_in`/`sockaddr_in6` those calls take.
 *
 * Why not Deno's `DatagramConn.send()`/`receive()` alone (measured with Deno 2.9 on Linux):
 * - one op per datagram caps a socket near 100–150 k datagrams/s;
 * - several sends in flight complete in no fixed order — two were enough to reorder frames, and
 *   tunnels must not reorder (TCP inside takes reordering for loss);
 * - a run of sends that complete at once keeps Deno's event loop from polling for I/O until the
 *   run is over, so the same process's receive side does not read while it sends: a 500-datagram
 *   burst overflowed the receiver's 208 KiB socket buffer and lost 289 of them.
 * A synchronous `sendmmsg` per event-loop turn has none of these problems, and `recvmmsg` drains a
 * burst per wake-up. Deno still owns the socket: it binds, joins multicast groups, and its
 * `receive()` is the wake-up (cable/dgram_socket.ts does the same for unix sockets).
 *
 * Deno does not expose descriptors, so the socket's is found by its inode: /proc/net/udp(6) maps
 * the bound address and port to the inode, and /proc/self/fd/N links to `socket:[inode]`.
 *
 * Layouts: Linux, glibc `<netinet/in.h>`: sockaddr_in is 16 bytes (family u16 host order, port u16
 * big-endian, address 4, zero 8); sockaddr_in6 is 28 (family, port, flowinfo u32, address 16,
 * scope id u32). AF_INET = 2, AF_INET6 = 10.
 */

import { fdOfSocketInode } from "./dgram_socket.ts";

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCKADDR_IN_SIZE = 16;
export const SOCKADDR_IN6_SIZE = 28;

/** The 4 or 16 bytes of an IPv4 or IPv6 literal (brackets allowed), or undefined. */
export function ipBytes(text: string): Uint8Array | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const b = v4.slice(1).map(Number);
    return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
  }
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!bare.includes(":") || !/^[0-9a-fA-F:.]+$/.test(bare)) return undefined;
  let canonical: string;
  try {
    // The WHATWG parser validates and writes embedded IPv4 as hex groups.
    canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const [left, right] = canonical.includes("::") ? canonical.split("::") : [canonical, undefined];
  const l = left === "" ? [] : left.split(":");
  const r = right === undefined || right === "" ? [] : right.split(":");
  const groups = right === undefined
    ? l
    : [...l, ...Array(8 - l.length - r.length).fill("0"), ...r];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** The text of 4 or 16 address bytes (IPv6 in its canonical, compressed form). */
export function ipText(b: Uint8Array): string {
  if (b.length === 4) return b.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/** Encode a sockaddr for `addr` (4 or 16 bytes) and `port` into `out` at `offset`. */
export function writeSockaddr(out: Uint8Array, offset: number, addr: Uint8Array, port: number) {
  const v6 = addr.length === 16;
  out.fill(0, offset, offset + (v6 ? SOCKADDR_IN6_SIZE : SOCKADDR_IN_SIZE));
  const family = v6 ? AF_INET6 : AF_INET;
  out[offset] = family & 0xff;
  out[offset + 1] = family >> 8;
  out[offset + 2] = port >> 8;
  out[offset + 3] = port & 0xff;
  out.set(addr, offset + (v6 ? 8 : 4));
}

/** A new sockaddr for `addr` and `port`. */
export function sockaddr(addr: Uint8Array, port: number): Uint8Array {
  const out = new Uint8Array(addr.length === 16 ? SOCKADDR_IN6_SIZE : SOCKADDR_IN_SIZE);
  writeSockaddr(out, 0, addr, port);
  return out;
}

/** Offset of the address bytes inside a sockaddr of the family at `sa[offset]`. */
export function sockaddrAddressOffset(sa: Uint8Array, offset = 0): number {
  return (sa[offset] | (sa[offset + 1] << 8)) === AF_INET6 ? 8 : 4;
}

/** `ip:port` (IPv6 in brackets) of the sockaddr at `offset`, for logs and the API. */
export function formatSockaddr(sa: Uint8Array, offset = 0): string {
  const v6 = sockaddrAddressOffset(sa, offset) === 8;
  const port = (sa[offset + 2] << 8) | sa[offset + 3];
  const a = ipText(sa.subarray(offset + (v6 ? 8 : 4), offset + (v6 ? 24 : 8)));
  return v6 ? `[${a}]:${port}` : `${a}:${port}`;
}

/**
 * The descriptor of this process's UDP socket bound to `hostname:port`, or undefined. The pair is
 * unique in the network namespace (no socket here sets SO_REUSEADDR), so it names one socket.
 */
export function fdOfUdpSocket(hostname: string, port: number): number | undefined {
  const want = ipBytes(hostname);
  if (want === undefined) return undefined;
  const table = want.length === 16 ? "/proc/net/udp6" : "/proc/net/udp";
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  let inode: string | undefined;
  for (const line of Deno.readTextFileSync(table).split("\n").slice(1)) {
    // "sl local_address rem_address st tx_queue:rx_queue tr:tm retrnsmt uid timeout inode …"
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addrHex, p] = f[1].split(":");
    if (p !== portHex || !sameProcAddress(addrHex, want)) continue;
    inode = f[9];
    break;
  }
  return inode === undefined ? undefined : fdOfSocketInode(inode);
}

/**
 * /proc/net/udp prints an address as 32-bit words in host byte order (`%08X` each): on a
 * little-endian machine 127.0.0.1 is "0100007F".
 */
function sameProcAddress(hex: string, want: Uint8Array): boolean {
  if (hex.length !== want.length * 2) return false;
  const le = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  for (let w = 0; w < want.length / 4; w++) {
    const word = parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    for (let i = 0; i < 4; i++) {
      const byte = le ? (word >>> (8 * i)) & 0xff : (word >>> (24 - 8 * i)) & 0xff;
      if (byte !== want[w * 4 + i]) return false;
    }
  }
  return true;
}
