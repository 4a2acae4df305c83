/**
 * `vxlan://[GROUP-OR-PEER][:PORT][?vni=N&ttl=N&bind=ADDR[:PORT]&if=NAME&mtu=N&ageing=SEC&…]` —
 * a VXLAN tunnel endpoint (VTEP, RFC 7348) on one UDP socket: the segment a Linux `vxlan` device,
 * vdeplug4's `vde_plug vxlan://…` or another weft share.
 *
 * - **Multicast group** (224.0.0.0/4, ff00::/8; default 239.0.0.1, or ff05:56de::1 with `v6`, as
 *   vdeplug4): broadcast, multicast and unknown-unicast ("BUM") frames go to the group, and
 *   frames to a MAC learned from received traffic go unicast to the VTEP it came from (RFC 7348
 *   §4.1 learning, §4.2 "Broadcast Communication and Mapping to Multicast"). The Linux device in
 *   `group` mode and vdeplug4 behave the same way.
 * - **Unicast peer**: point to point. BUM and unknown unicast go to the peer (the Linux device's
 *   `remote` mode); learning still applies, so a VTEP that sends to us is answered directly.
 *
 * Options (query string, or vdeplug4's `/opt=val` path segments: `vxlan://239.0.0.1/vni=42`):
 * `vni` (0–16777215, default 1 as vdeplug4), `port` (the VXLAN UDP port, same as `:PORT`,
 * default 4789), `ttl` (multicast TTL, default 1), `bind=ADDR[:PORT]` (local side, see below),
 * `if=NAME` (interface to join the group on), `mtu` (largest inner payload, default 1450 over
 * IPv4 and 1430 over IPv6), `ageing` or vdeplug4's `expiretime` (seconds a learned MAC stays,
 * default 300 as Linux), `learn=0` (send everything to the group or peer), `tagged=pass`
 * (carry 802.1Q-tagged inner frames), `v4`/`v6` (family of the default group).
 *
 * Wire facts and the choices made here:
 * - Header: flags exactly 0x08, 24-bit VNI (vxlan_wire.ts; RFC 7348 §5). Received datagrams are
 *   checked in this order and dropped by reason, never thrown: shorter than 8 bytes `runt`, flags
 *   not 0x08 `badHeader`, another VNI `wrongVni`, inner frame under 14 bytes `runt`, over the
 *   MTU `oversize`, an inner 802.1Q/802.1ad tag without `tagged=pass` `innerVlan`. Accepted
 *   frames go to the sink as views of the receive buffers (borrowed, ARCHITECTURE §3).
 * - **UDP source port.** RFC 7348 §5 recommends a source port hashed from the inner headers (in
 *   49152–65535) so that ECMP spreads tunnel traffic. A socket sends from the one port it is
 *   bound to, and neither Deno nor `sendmmsg` can pick a source port per datagram; a socket per
 *   hash value would mean thousands of sockets. So weft sends from its single bound port, the
 *   VXLAN port itself by default — exactly what vdeplug4 does. Receivers do not care (Linux and
 *   vdeplug4 learn the sender's IP and answer on the VXLAN port); only ECMP spreading between a
 *   pair of VTEPs is lost. The outer UDP checksum is the kernel's normal one rather than zero
 *   (RFC 7348 §5 allows a correct non-zero checksum; receivers must accept both).
 * - **Learned VTEPs are addressed on the VXLAN port** (IP learned, port = `PORT`), as by Linux
 *   and vdeplug4 ("VXLAN always sends packets to the multicast port"): senders' source ports are
 *   hashes, not listening ports.
 * - **Local side.** The socket binds `PORT` on the wildcard address, because Linux delivers
 *   multicast only to sockets bound to the wildcard or the group. `bind=ADDR` binds ADDR for a
 *   unicast peer; for a group, ADDR names the interface to join on (like `if=NAME`). `bind=…:P`
 *   binds port P instead of PORT (several VTEPs on one host, tests). One VTEP per address and
 *   port: a Linux vxlan device in the same network namespace already holds 0.0.0.0:4789.
 * - **Multicast egress** follows the routing table (Deno sets no IP_MULTICAST_IF): the group
 *   needs a route, e.g. `ip route add 239.0.0.0/8 dev eth0`, or a default route. The TTL of
 *   group traffic is `ttl` (vdeplug4's default 1 keeps it on the local link); over IPv6 only the
 *   kernel's default hop limit 1 is available. Own multicast is not looped back.
 * - **MTU.** VTEPs must not fragment (RFC 7348 §4.3), so the endpoint refuses (`oversize`) any
 *   inner frame that does not fit a 1500-byte underlay packet: 1500 − 20 (IPv4) − 8 (UDP) − 8
 *   (VXLAN) = 1464-byte frames, i.e. a 1450-byte payload after the 14-byte Ethernet header
 *   (1430 over IPv6) — the MTU Linux gives its vxlan device. Hosts on the segment should use
 *   that MTU too; raise `mtu` only when the underlay carries jumbo frames.
 * - **Inner VLAN tags.** RFC 7348 §6.1: decapsulated frames with an inner VLAN tag SHOULD be
 *   discarded, and a VTEP SHOULD NOT send them, "unless configured otherwise": `tagged=pass` is
 *   that configuration (a trunk over the tunnel). Tagged frames are dropped, not stripped:
 *   stripping would merge every VLAN of a trunk into one segment. Untag on the switch port
 *   (access mode) instead.
 * - **No await per frame** (ARCHITECTURE §4; why not Deno's `send()`: cable/udp_socket.ts).
 *   `send()` copies header + frame into a bounded out-queue (1,024 datagrams, 2 MiB; full:
 *   `queueFull`) and one `sendmmsg` per event-loop turn sends them all, each to its own
 *   destination, in order. If the socket buffer is full (EAGAIN) the rest waits for POLLOUT; a
 *   datagram the kernel refuses (no route, …) is dropped and counted `sendError`, and the error
 *   is logged, rate-limited. Receiving: one `receive()` on the Deno socket is pending at a time
 *   and is the wake-up; the burst behind it is drained with `recvmmsg`, 64 datagrams a call.
 */

import type { Clock } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import { MAX_FRAME, MIN_FRAME } from "../core/endpoint.ts";
import { EndpointBase } from "../core/endpoint_base.ts";
import { ConfigError, parseIntIn } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { silentLogger } from "../core/log.ts";
import { formatMac, macAt } from "../core/mac.ts";
import {
  addressOf,
  EAGAIN,
  EINTR,
  errno,
  errnoName,
  IOVEC_SIZE,
  libc,
  type LibcSymbols,
  MMSGHDR_SIZE,
  MSG_DONTWAIT,
  MSG_TRUNC,
  storeAddress,
} from "./ffi/libc.ts";
import { poller, type PollHandler, POLLOUT } from "./ffi/poller.ts";
import type { EndpointKind } from "./registry.ts";
import {
  fdOfUdpSocket,
  formatSockaddr,
  ipBytes,
  ipText,
  SOCKADDR_IN6_SIZE,
  SOCKADDR_IN_SIZE,
  writeSockaddr,
} from "./udp_socket.ts";
import type { EndpointUrl } from "./url.ts";
import {
  MAX_VNI,
  readVxlanVni,
  VXLAN_HEADER_SIZE,
  VXLAN_PORT,
  VXLAN_RUNT,
  vxlanOverhead,
  writeVxlanHeader,
} from "./vxlan_wire.ts";

/** vdeplug4's default groups (libvdeplug_vxlan.c DEFADDRV4 / DEFADDRV6). */
export const DEFAULT_GROUP_V4 = "239.0.0.1";
export const DEFAULT_GROUP_V6 = "ff05:56de::1";
/** Seconds a learned MAC stays (Linux vxlan's default ageing; vdeplug4 uses 128). */
export const DEFAULT_AGEING_SEC = 300;
/** The underlay MTU the default inner MTU is derived from. */
export const UNDERLAY_MTU = 1500;
/** Learned MACs kept at most (the switch's default table size). */
export const DEFAULT_MAC_LIMIT = 65536;

/** Out-queue bound in datagrams: the kernel's UIO_MAXIOV, the most one sendmmsg takes. */
const TX_FRAMES = 1024;
/** Out-queue bound in bytes. */
const TX_BYTES = 2 * 1024 * 1024;
/** Datagrams per recvmmsg call, and calls per wake-up before others get their turn. */
const RX_SLOTS = 64;
const RX_ROUNDS = 16;
/** Bytes per sockaddr slot: sockaddr_in6 (28) rounded up to 8. */
const NAME_SLOT = 32;
/** A full MAC table is swept for expired entries at most this often (ms). */
const SWEEP_INTERVAL_MS = 1000;
/** Send/receive errors are logged at most this often (ms). */
const LOG_INTERVAL_MS = 5000;

// struct mmsghdr as Uint32 indexes, 16 words per entry (Linux x86_64/aarch64, see ffi/libc.ts).
const W_NAME = 0; // msg_name (pointer, 2 words)
const W_NAMELEN = 2; // msg_namelen
const W_IOV = 4; // msg_iov (pointer, 2 words)
const W_IOVLEN = 6; // msg_iovlen (size_t, 2 words)
const W_FLAGS = 12; // msg_flags
const W_LEN = 14; // msg_len

export interface VxlanOptions {
  /** Multicast group or unicast peer: an IPv4 or IPv6 literal. */
  remote: string;
  /** The VXLAN UDP port: destination of every datagram, and bound locally unless `localPort`. */
  port?: number;
  /** Local UDP port (0: any free one). Default `port`. */
  localPort?: number;
  /** Local address: bound for a unicast peer; the interface to join on for a group. */
  bind?: string;
  /** Interface to join the group on, by name (vdeplug4's `if=`). */
  ifname?: string;
  /** VXLAN Network Identifier, 0–16777215 (default 1). */
  vni?: number;
  /** TTL of multicast datagrams (default 1). */
  ttl?: number;
  /** Largest inner payload (inner frame minus its 14-byte header). Default: fits a 1500 underlay. */
  mtu?: number;
  /** How long a learned MAC → VTEP entry stays, ms (default 300 s). */
  ageingMs?: number;
  /** Learn MAC → VTEP from received frames (default true). */
  learn?: boolean;
  /** Most learned MACs (default 65,536); beyond it learning is refused and counted. */
  macLimit?: number;
  /** Carry inner frames with an 802.1Q / 802.1ad tag (RFC 7348 §6.1 "configured otherwise"). */
  tagged?: boolean;
  clock?: Clock;
  logger?: Logger;
  /** The URL as the user wrote it, for messages. */
  url?: string;
}

/** One learned MAC: its VTEP as a ready sockaddr (port = the VXLAN port), last heard from when. */
interface FdbEntry {
  name: Uint8Array;
  seen: number;
}

/** A learned entry as the API shows it. */
export interface VxlanFdbEntry {
  mac: string;
  vtep: string;
  ageMs: number;
}

function isMulticast(addr: Uint8Array): boolean {
  return addr.length === 16 ? addr[0] === 0xff : addr[0] >= 224 && addr[0] <= 239;
}

/** True when the frame carries an 802.1Q (0x8100) or 802.1ad (0x88a8) tag after the MACs. */
function isTagged(f: Uint8Array, offset: number): boolean {
  const t = (f[offset + 12] << 8) | f[offset + 13];
  return t === 0x8100 || t === 0x88a8;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Link entry i of an mmsghdr array to its iovec i and sockaddr slot i. */
function linkHeaders(
  hdr32: Uint32Array,
  iov: Uint8Array,
  names: Uint8Array,
  n: number,
  nameLen: number,
) {
  const iovBase = addressOf(iov);
  const nameBase = addressOf(names);
  for (let i = 0; i < n; i++) {
    storeAddress(hdr32, i * 16 + W_NAME, nameBase + i * NAME_SLOT);
    hdr32[i * 16 + W_NAMELEN] = nameLen;
    storeAddress(hdr32, i * 16 + W_IOV, iovBase + i * IOVEC_SIZE);
    hdr32[i * 16 + W_IOVLEN] = 1;
  }
}

interface VtepConfig {
  fd: number;
  remote: Uint8Array;
  port: number;
  vni: number;
  frameLimit: number;
  ageingMs: number;
  learn: boolean;
  macLimit: number;
  tagged: boolean;
  clock: Clock;
  logger: Logger;
}

/**
 * A VXLAN tunnel endpoint. Open it with `openVxlan` (or `openEndpoint("vxlan://…")`): opening
 * binds the socket and joins the group, which are asynchronous and may fail.
 */
export class VxlanEndpoint extends EndpointBase implements PollHandler {
  /** The VNI this endpoint sends and accepts. */
  readonly vni: number;
  /** The group or peer, as `ip:port`. */
  readonly remote: string;
  /** Whether the remote is a multicast group. */
  readonly multicast: boolean;
  /** The VXLAN UDP port (destination of every datagram). */
  readonly port: number;
  /** Where the socket is bound (the actual port when 0 was asked). */
  readonly localAddr: Deno.NetAddr;
  /** The socket's descriptor (owned by the Deno socket). */
  readonly fd: number;
  /** Learned MACs refused because the table was full. */
  fdbRefused = 0;
  /** The last send or receive error, for diagnostics. */
  lastError: string | undefined;

  readonly #conn: Deno.DatagramConn;
  readonly #libc: LibcSymbols;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #ageingMs: number;
  readonly #learn: boolean;
  readonly #macLimit: number;
  readonly #tagged: boolean;
  /** sockaddr length of this socket's family, and where the address bytes sit in it. */
  readonly #nameLen: number;
  readonly #addrOff: number;
  readonly #addrLen: number;
  /** The group or peer as a sockaddr. */
  readonly #defaultName: Uint8Array;
  readonly #fdb = new Map<number, FdbEntry>();
  #lastSweep = -Infinity;
  #lastLog = -Infinity;
  #unlogged = 0;

  // Out-queue: datagrams [#head, #count) wait; their bytes are #tx[#txOffs[#head], #tail).
  // Entry i has its mmsghdr (pointing at iovec i and sockaddr slot i) ready, so one sendmmsg
  // sends them all. Every buffer libc sees is a field: it stays referenced while libc uses it.
  readonly #tx = new Uint8Array(TX_BYTES);
  readonly #txBase = addressOf(this.#tx);
  readonly #txHdrs = new Uint8Array(TX_FRAMES * MMSGHDR_SIZE);
  readonly #txIov = new Uint8Array(TX_FRAMES * IOVEC_SIZE);
  readonly #txIov32 = new Uint32Array(this.#txIov.buffer);
  readonly #txNames = new Uint8Array(TX_FRAMES * NAME_SLOT);
  readonly #txOffs = new Uint32Array(TX_FRAMES);
  readonly #txLens = new Uint32Array(TX_FRAMES);
  #head = 0;
  #count = 0;
  #tail = 0;
  #scheduled = false;
  #waitingOut = false;
  readonly #flushTask = () => this.#flush();

  // Receive pool: RX_SLOTS slots of #rxSlotSize bytes, one sockaddr slot each.
  readonly #rxSlotSize: number;
  readonly #rx: Uint8Array;
  readonly #rxHdrs = new Uint8Array(RX_SLOTS * MMSGHDR_SIZE);
  readonly #rxHdr32 = new Uint32Array(this.#rxHdrs.buffer);
  readonly #rxIov = new Uint8Array(RX_SLOTS * IOVEC_SIZE);
  readonly #rxNames = new Uint8Array(RX_SLOTS * NAME_SLOT);
  /** Where the sender of a datagram from Deno's `receive()` is written as a sockaddr. */
  readonly #firstName = new Uint8Array(NAME_SLOT);

  constructor(conn: Deno.DatagramConn, url: string, cfg: VtepConfig) {
    super(url, cfg.frameLimit);
    this.#conn = conn;
    this.#libc = libc();
    this.fd = cfg.fd;
    this.vni = cfg.vni;
    this.port = cfg.port;
    this.localAddr = conn.addr as Deno.NetAddr;
    const v6 = this.localAddr.hostname.includes(":");
    this.#nameLen = v6 ? SOCKADDR_IN6_SIZE : SOCKADDR_IN_SIZE;
    this.#addrOff = v6 ? 8 : 4;
    this.#addrLen = v6 ? 16 : 4;
    this.#defaultName = new Uint8Array(this.#nameLen);
    writeSockaddr(this.#defaultName, 0, cfg.remote, cfg.port);
    this.remote = formatSockaddr(this.#defaultName);
    this.multicast = isMulticast(cfg.remote);
    this.#clock = cfg.clock;
    this.#logger = cfg.logger;
    this.#ageingMs = cfg.ageingMs;
    this.#learn = cfg.learn;
    this.#macLimit = cfg.macLimit;
    this.#tagged = cfg.tagged;

    // sendmmsg only reads msg_namelen: set once, like every pointer.
    linkHeaders(
      new Uint32Array(this.#txHdrs.buffer),
      this.#txIov,
      this.#txNames,
      TX_FRAMES,
      this.#nameLen,
    );
    // One byte more than the largest datagram we accept tells a longer one (MSG_TRUNC too).
    this.#rxSlotSize = (VXLAN_HEADER_SIZE + cfg.frameLimit + 1 + 7) & ~7;
    this.#rx = new Uint8Array(RX_SLOTS * this.#rxSlotSize);
    linkHeaders(this.#rxHdr32, this.#rxIov, this.#rxNames, RX_SLOTS, NAME_SLOT);
    const rxIov32 = new Uint32Array(this.#rxIov.buffer);
    const rxBase = addressOf(this.#rx);
    for (let i = 0; i < RX_SLOTS; i++) {
      storeAddress(rxIov32, i * 4, rxBase + i * this.#rxSlotSize);
      rxIov32[i * 4 + 2] = this.#rxSlotSize;
    }
    this.#receiveLoop();
  }

  send(frame: Uint8Array): boolean {
    const c = this.counters;
    const n = frame.length;
    const why = this.unfit(n);
    if (why) return c.drop(why);
    if (!this.#tagged && isTagged(frame, 0)) return c.drop("innerVlan");
    let dest = this.#defaultName;
    // Unicast to a learned VTEP (RFC 7348 §4.1); group-addressed and unknown frames go to the
    // group or peer (§4.2).
    if ((frame[0] & 1) === 0 && this.#fdb.size > 0) {
      const mac = macAt(frame, 0);
      const e = this.#fdb.get(mac);
      if (e !== undefined) {
        if (this.#clock.now() - e.seen <= this.#ageingMs) dest = e.name;
        else this.#fdb.delete(mac);
      }
    }
    const size = VXLAN_HEADER_SIZE + n;
    if (this.#count === TX_FRAMES || this.#tail + size > TX_BYTES) {
      if (!this.#makeRoom(size)) return c.drop("queueFull");
    }
    const i = this.#count;
    const off = this.#tail;
    const tx = this.#tx;
    writeVxlanHeader(tx, off, this.vni);
    tx.set(frame, off + VXLAN_HEADER_SIZE);
    this.#txNames.set(dest, i * NAME_SLOT);
    this.#txOffs[i] = off;
    this.#txLens[i] = size;
    this.#setTxEntry(i, off, size);
    this.#count = i + 1;
    this.#tail = off + size;
    c.countOut(n);
    if (!this.#scheduled && !this.#waitingOut) {
      this.#scheduled = true;
      queueMicrotask(this.#flushTask);
    }
    return true;
  }

  /** The learned MAC → VTEP table (entries still within the ageing time). */
  fdb(): VxlanFdbEntry[] {
    const now = this.#clock.now();
    const out: VxlanFdbEntry[] = [];
    for (const [mac, e] of this.#fdb) {
      const age = now - e.seen;
      if (age <= this.#ageingMs) {
        out.push({ mac: formatMac(mac), vtep: formatSockaddr(e.name), ageMs: age });
      }
    }
    return out;
  }

  /** Datagrams waiting in the out-queue. */
  get queuedFrames(): number {
    return this.#count - this.#head;
  }

  /** Called by the poller: only POLLOUT is asked for, but an error condition reads as input. */
  readable(): void {
    if (!this.isClosed) this.#drain();
  }

  /** Called by the poller while POLLOUT is wanted: the socket buffer has room again. */
  writable(): void {
    if (this.#waitingOut) this.#flush();
  }

  protected closeResources(): void {
    const pending = this.#count - this.#head;
    if (pending > 0) this.counters.drop("closed", pending);
    this.#head = this.#count = this.#tail = 0;
    if (this.#waitingOut) poller().unregister(this.fd);
    this.#waitingOut = false;
    try {
      this.#conn.close(); // rejects the pending receive; leaves the group
    } catch {
      // already closed
    }
  }

  // ---- send ----

  /** Point iovec i (which mmsghdr i points at) at `size` bytes of the queue from `off`. */
  #setTxEntry(i: number, off: number, size: number): void {
    const iov32 = this.#txIov32;
    storeAddress(iov32, i * 4, this.#txBase + off);
    iov32[i * 4 + 2] = size;
    iov32[i * 4 + 3] = 0;
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.isClosed) return;
    const c = this.#libc;
    while (this.#head < this.#count) {
      const head = this.#head;
      const hdrs = head === 0 ? this.#txHdrs : this.#txHdrs.subarray(head * MMSGHDR_SIZE);
      const r = c.sendmmsg(this.fd, hdrs, this.#count - head, MSG_DONTWAIT);
      if (r > 0) {
        this.#head = head + r;
        continue;
      }
      const e = r < 0 ? errno() : EAGAIN;
      if (e === EAGAIN) {
        if (!this.#waitingOut) {
          this.#waitingOut = true;
          poller().register(this.fd, this, POLLOUT);
        }
        return;
      }
      if (e === EINTR) continue;
      // The kernel refuses this one datagram (ENETUNREACH, EHOSTUNREACH, EMSGSIZE, EPERM from a
      // firewall, …): drop it, go on with the rest. A UDP VTEP has no peer to lose.
      this.counters.drop("sendError");
      this.#report("send failed", errnoName(e));
      this.#head = head + 1;
    }
    this.#head = this.#count = this.#tail = 0;
    if (this.#waitingOut) {
      this.#waitingOut = false;
      poller().unregister(this.fd);
    }
  }

  /**
   * Make room for `size` more bytes by moving the waiting datagrams to the front — only when
   * that frees at least a quarter of the queue, which bounds its cost per frame under sustained
   * overload (as cable/unix_dgram.ts). False when the queue is full.
   */
  #makeRoom(size: number): boolean {
    const live = this.#count - this.#head;
    const liveStart = live > 0 ? this.#txOffs[this.#head] : this.#tail;
    const liveBytes = this.#tail - liveStart;
    if (live >= TX_FRAMES || liveBytes + size > TX_BYTES) return false;
    if (live * 4 > TX_FRAMES * 3 || liveBytes * 4 > TX_BYTES * 3) return false;
    const tx = this.#tx;
    tx.copyWithin(0, liveStart, liveStart + liveBytes);
    const head = this.#head;
    this.#txNames.copyWithin(0, head * NAME_SLOT, (head + live) * NAME_SLOT);
    for (let j = 0; j < live; j++) {
      const off = this.#txOffs[head + j] - liveStart;
      const len = this.#txLens[head + j];
      this.#txOffs[j] = off;
      this.#txLens[j] = len;
      this.#setTxEntry(j, off, len);
    }
    this.#head = 0;
    this.#count = live;
    this.#tail = liveBytes;
    return true;
  }

  // ---- receive ----

  /**
   * Readiness through Deno's event loop: one datagram per `receive()`, then the rest of the burst
   * synchronously with recvmmsg. One loop, one pending receive.
   */
  async #receiveLoop(): Promise<void> {
    const first = new Uint8Array(this.#rxSlotSize);
    let failures = 0;
    while (!this.isClosed) {
      let d: Uint8Array;
      let from: Deno.Addr;
      try {
        [d, from] = await this.#conn.receive(first);
      } catch (e) {
        if (this.isClosed) return;
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) {
          this.#logger.log("warn", "vxlan socket closed", { url: this.url, error: errorText(e) });
          this.close();
          return;
        }
        // Transient (ENOBUFS, an ICMP error surfacing): back off a little and keep serving.
        this.#report("receive failed", errorText(e));
        failures++;
        await new Promise((r) => setTimeout(r, Math.min(1000, 2 ** failures)));
        continue;
      }
      failures = 0;
      try {
        if (this.#nameOf((from as Deno.NetAddr).hostname)) {
          this.#datagram(d, d.length, false, this.#firstName, 0);
        }
        this.#drain();
      } catch (e) {
        // Only a throwing sink can get here; the loop must outlive it.
        this.counters.drop("sinkError");
        this.#report("sink failed", errorText(e));
      }
    }
  }

  /** Write the sockaddr of Deno's sender text into #firstName; false if it cannot be parsed. */
  #nameOf(hostname: string): boolean {
    let b = ipBytes(hostname);
    if (b !== undefined && b.length === 4 && this.#addrLen === 16) {
      b = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...b]); // v4-mapped
    }
    if (b === undefined || b.length !== this.#addrLen) {
      this.counters.drop("badSource");
      return false;
    }
    writeSockaddr(this.#firstName, 0, b, this.port);
    return true;
  }

  /** Drain the socket with recvmmsg: up to RX_ROUNDS × RX_SLOTS datagrams per wake-up. */
  #drain(): void {
    const c = this.#libc;
    const h = this.#rxHdr32;
    const size = this.#rxSlotSize;
    for (let round = 0; round < RX_ROUNDS; round++) {
      const n = c.recvmmsg(this.fd, this.#rxHdrs, RX_SLOTS, MSG_DONTWAIT, null);
      if (n <= 0) {
        const e = n < 0 ? errno() : EAGAIN;
        if (e === EINTR) continue;
        if (e !== EAGAIN) this.#report("receive failed", errnoName(e));
        return;
      }
      for (let i = 0; i < n; i++) {
        const w = i * 16;
        h[w + W_NAMELEN] = NAME_SLOT; // value-result: reset for the next call
        const len = h[w + W_LEN];
        const trunc = (h[w + W_FLAGS] & MSG_TRUNC) !== 0;
        this.#datagram(
          this.#rx.subarray(i * size, i * size + len),
          len,
          trunc,
          this.#rxNames,
          i * NAME_SLOT,
        );
        if (this.isClosed) return; // the sink closed us
      }
      if (n < RX_SLOTS) return;
    }
  }

  /**
   * Check, learn from and deliver one received datagram (RFC 7348 §5). `names[nameOff]` is the
   * sender's sockaddr.
   */
  #datagram(d: Uint8Array, len: number, trunc: boolean, names: Uint8Array, nameOff: number) {
    const c = this.counters;
    const vni = readVxlanVni(d);
    if (vni < 0) {
      c.drop(vni === VXLAN_RUNT ? "runt" : "badHeader");
      return;
    }
    if (vni !== this.vni) {
      c.drop("wrongVni");
      return;
    }
    const n = len - VXLAN_HEADER_SIZE;
    if (trunc || n > this.mtu) {
      c.drop("oversize");
      return;
    }
    if (n < MIN_FRAME) {
      c.drop("runt");
      return;
    }
    if (!this.#tagged && isTagged(d, VXLAN_HEADER_SIZE)) {
      c.drop("innerVlan");
      return;
    }
    // Learn before delivering: a reply the sink sends synchronously then goes unicast.
    if (this.#learn && (d[VXLAN_HEADER_SIZE + 6] & 1) === 0) {
      this.#learnFrom(macAt(d, VXLAN_HEADER_SIZE + 6), names, nameOff);
    }
    this.deliver(d.subarray(VXLAN_HEADER_SIZE));
  }

  #learnFrom(mac: number, names: Uint8Array, nameOff: number): void {
    const now = this.#clock.now();
    const e = this.#fdb.get(mac);
    if (e !== undefined) {
      // A MAC that moved to another VTEP (a migrated VM) follows it at once.
      if (!this.#sameAddress(e.name, names, nameOff)) e.name = this.#learnedName(names, nameOff);
      e.seen = now;
      return;
    }
    if (this.#fdb.size >= this.#macLimit) {
      if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) this.#sweep(now);
      if (this.#fdb.size >= this.#macLimit) {
        this.fdbRefused++;
        return;
      }
    }
    this.#fdb.set(mac, { name: this.#learnedName(names, nameOff), seen: now });
  }

  #sameAddress(name: Uint8Array, names: Uint8Array, nameOff: number): boolean {
    const a = this.#addrOff;
    for (let i = 0; i < this.#addrLen; i++) {
      if (name[a + i] !== names[nameOff + a + i]) return false;
    }
    return true;
  }

  /** The sender's sockaddr with the VXLAN port (its source port is a hash, module doc). */
  #learnedName(names: Uint8Array, nameOff: number): Uint8Array {
    const name = names.slice(nameOff, nameOff + this.#nameLen);
    name[2] = this.port >> 8;
    name[3] = this.port & 0xff;
    if (this.#nameLen === SOCKADDR_IN6_SIZE) name.fill(0, 4, 8); // flow info; keep the scope id
    return name;
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [mac, e] of this.#fdb) if (now - e.seen > this.#ageingMs) this.#fdb.delete(mac);
  }

  /** Log an I/O error, at most once per LOG_INTERVAL_MS, saying how many were not logged. */
  #report(what: string, error: string): void {
    this.lastError = error;
    const now = this.#clock.now();
    if (now - this.#lastLog < LOG_INTERVAL_MS) {
      this.#unlogged++;
      return;
    }
    this.#logger.log("warn", `vxlan ${what}`, {
      url: this.url,
      error,
      ...(this.#unlogged > 0 ? { unlogged: this.#unlogged } : {}),
    });
    this.#lastLog = now;
    this.#unlogged = 0;
  }
}

/** The IPv4 address of interface `name`, for joining a group on it. */
function ipv4OfInterface(name: string): string | undefined {
  return Deno.networkInterfaces().find((i) => i.name === name && i.family === "IPv4")?.address;
}

/** The index of interface `name` (Linux), for joining an IPv6 group on it. */
function indexOfInterface(name: string): number | undefined {
  if (!/^[^/\s]{1,15}$/.test(name)) return undefined;
  try {
    return Number(Deno.readTextFileSync(`/sys/class/net/${name}/ifindex`).trim());
  } catch {
    return undefined;
  }
}

/** The index of the interface holding IPv6 address `addr`. */
function indexOfAddress(addr: Uint8Array): number | undefined {
  for (const i of Deno.networkInterfaces()) {
    const b = i.family === "IPv6" ? ipBytes(i.address.replace(/%.*$/, "")) : undefined;
    if (b !== undefined && b.every((x, k) => x === addr[k])) return indexOfInterface(i.name);
  }
  return undefined;
}

/**
 * Open a VTEP: bind the UDP socket, join the group if `remote` is one. Rejects with a
 * ConfigError naming the URL and the cause (port in use, no route for the group, …).
 */
export async function openVxlan(opts: VxlanOptions): Promise<VxlanEndpoint> {
  const remote = ipBytes(opts.remote);
  const v6 = remote?.length === 16;
  const port = opts.port ?? VXLAN_PORT;
  const vni = opts.vni ?? 1;
  const shownHost = v6 ? `[${opts.remote.replace(/^\[|\]$/g, "")}]` : opts.remote;
  const shown = opts.url ?? `vxlan://${shownHost}:${port}?vni=${vni}`;
  const fail = (why: string) => new ConfigError(`Cannot open endpoint "${shown}": ${why}`);
  if (remote === undefined) {
    throw fail(`"${opts.remote}" is not an IPv4 or IPv6 address (names are not resolved)`);
  }
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw fail(`port ${port} is not a whole number from 1 to 65535`);
  }
  const localPort = opts.localPort ?? port;
  if (!(Number.isInteger(localPort) && localPort >= 0 && localPort <= 65535)) {
    throw fail(`local port ${localPort} is not a whole number from 0 to 65535`);
  }
  if (!(Number.isInteger(vni) && vni >= 0 && vni <= MAX_VNI)) {
    throw fail(`VNI ${vni} is not a whole number from 0 to ${MAX_VNI}`);
  }
  const multicast = isMulticast(remote);
  const ttl = opts.ttl ?? 1;
  if (!(Number.isInteger(ttl) && ttl >= 1 && ttl <= 255)) {
    throw fail(`ttl ${ttl} is not a whole number from 1 to 255`);
  }
  if (v6 && multicast && ttl !== 1) {
    throw fail("over IPv6 only ttl=1 is supported (Deno cannot set the multicast hop limit)");
  }
  const overhead = vxlanOverhead(v6);
  const maxPayload = MAX_FRAME - 14 - overhead;
  const payload = opts.mtu ?? UNDERLAY_MTU - overhead - 14;
  if (!(Number.isInteger(payload) && payload >= 68 && payload <= maxPayload)) {
    throw fail(`mtu ${payload} is not a whole number from 68 to ${maxPayload}`);
  }
  const tagged = opts.tagged ?? false;
  const frameLimit = payload + 14 + (tagged ? 4 : 0);

  // Local side (module doc: "Local side").
  let bind: Uint8Array | undefined;
  if (opts.bind !== undefined) {
    bind = ipBytes(opts.bind);
    if (bind === undefined) throw fail(`bind address "${opts.bind}" is not an IP address`);
    if (bind.length !== remote.length) {
      throw fail(`bind address ${opts.bind} is not of the same family as ${opts.remote}`);
    }
  }
  const wildcard = v6 ? "::" : "0.0.0.0";
  const hostname = multicast || bind === undefined ? wildcard : ipText(bind);
  if (typeof Deno.listenDatagram !== "function") {
    throw fail("UDP sockets need Deno's --unstable-net flag");
  }
  try {
    libc();
  } catch (e) {
    throw fail(`the VXLAN data path needs FFI (--allow-ffi): ${errorText(e)}`);
  }

  let conn: Deno.DatagramConn;
  try {
    conn = Deno.listenDatagram({ transport: "udp", hostname, port: localPort });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw fail(
        `UDP ${hostname}:${localPort} is in use (a Linux vxlan device or another VTEP on this ` +
          `host holds it: one VTEP per address and port; bind=ADDR:PORT picks another)`,
      );
    }
    throw fail(`cannot bind UDP ${hostname}:${localPort} (${errorText(e)})`);
  }
  try {
    const local = conn.addr as Deno.NetAddr;
    const fd = fdOfUdpSocket(local.hostname, local.port);
    if (fd === undefined) throw fail(`cannot find the descriptor of UDP socket ${hostname}`);
    if (multicast) {
      const group = ipText(remote);
      if (v6) {
        let index = 0;
        if (opts.ifname !== undefined) index = indexOfInterface(opts.ifname) ?? -1;
        else if (bind !== undefined) index = indexOfAddress(bind) ?? -1;
        if (index < 0) throw fail(`no interface ${opts.ifname ?? `with address ${opts.bind}`}`);
        await conn.joinMulticastV6(group, index);
      } else {
        let ifaddr = bind === undefined ? "0.0.0.0" : ipText(bind);
        if (opts.ifname !== undefined) {
          const a = ipv4OfInterface(opts.ifname);
          if (a === undefined) throw fail(`no IPv4 address on interface "${opts.ifname}"`);
          ifaddr = a;
        }
        const membership = await conn.joinMulticastV4(group, ifaddr);
        await membership.setTTL(ttl);
      }
    }
    return new VxlanEndpoint(conn, shown, {
      fd,
      remote,
      port,
      vni,
      frameLimit,
      ageingMs: opts.ageingMs ?? DEFAULT_AGEING_SEC * 1000,
      learn: opts.learn ?? true,
      macLimit: opts.macLimit ?? DEFAULT_MAC_LIMIT,
      tagged,
      clock: opts.clock ?? systemClock,
      logger: opts.logger ?? silentLogger,
    });
  } catch (e) {
    conn.close();
    if (e instanceof ConfigError) throw e;
    throw fail(
      `cannot join multicast group ${opts.remote} (${errorText(e)}; the group needs a route, ` +
        `e.g. "ip route add ${v6 ? "ff00::/8" : "224.0.0.0/4"} dev IFACE", or if=IFACE)`,
    );
  }
}

// ---- URL ----

const OPTION_KEYS = [
  "vni",
  "port",
  "ttl",
  "bind",
  "if",
  "mtu",
  "ageing",
  "expiretime",
  "learn",
  "tagged",
  "v4",
  "v6",
];

/** Split `HOST[:PORT]`, `[V6][:PORT]` or a bare IPv6 literal. */
function splitHostPort(text: string, what: string): { host: string; port?: string } {
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw new ConfigError(`Invalid ${what} "${text}": missing "]"`);
    const after = text.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) {
      throw new ConfigError(`Invalid ${what} "${text}": expected [ADDR]:PORT`);
    }
    return { host: text.slice(1, close), port: after === "" ? undefined : after.slice(1) };
  }
  const colons = text.split(":").length - 1;
  if (colons === 1) {
    const i = text.indexOf(":");
    return { host: text.slice(0, i), port: text.slice(i + 1) };
  }
  return { host: text }; // IPv4, or IPv6 without brackets and port
}

/** VxlanOptions from a `vxlan://` URL (both the query and vdeplug4's `/opt=val` forms). */
export function parseVxlanUrl(url: EndpointUrl): VxlanOptions {
  try {
    return parseUrl(url);
  } catch (e) {
    if (e instanceof ConfigError && !e.message.startsWith("Cannot open endpoint")) {
      throw new ConfigError(`Cannot open endpoint "${url.text}": ${e.message}`);
    }
    throw e;
  }
}

function parseUrl(url: EndpointUrl): VxlanOptions {
  const fail = (why: string) => new ConfigError(`Cannot open endpoint "${url.text}": ${why}`);
  const slash = url.rest.indexOf("/");
  const authority = slash < 0 ? url.rest : url.rest.slice(0, slash);
  const params = new Map<string, string>();
  const segments = slash < 0 ? [] : url.rest.slice(slash + 1).split("/").filter((s) => s !== "");
  const pairs: Array<[string, string]> = [
    ...segments.map((s): [string, string] => {
      const eq = s.indexOf("=");
      return eq < 0 ? [s, ""] : [s.slice(0, eq), s.slice(eq + 1)];
    }),
    ...url.params.entries(),
  ];
  for (const [k, v] of pairs) {
    if (!OPTION_KEYS.includes(k)) {
      throw fail(`unknown option "${k}" (vxlan takes ${OPTION_KEYS.join(", ")})`);
    }
    params.set(k, v);
  }
  const int = (key: string, min: number, max: number): number | undefined => {
    const v = params.get(key);
    return v === undefined ? undefined : parseIntIn(`vxlan ${key}`, v, min, max);
  };
  const bool = (key: string): boolean | undefined => {
    const v = params.get(key);
    if (v === undefined) return undefined;
    if (v === "" || v === "1" || v === "true" || v === "yes" || v === "pass") return true;
    if (v === "0" || v === "false" || v === "no" || v === "drop") return false;
    throw fail(`option ${key}=${v}: expected 1 or 0`);
  };

  const { host, port: portText } = splitHostPort(authority, "VXLAN address");
  const wantV6 = params.has("v6") && !params.has("v4");
  const remote = host === "" ? (wantV6 ? DEFAULT_GROUP_V6 : DEFAULT_GROUP_V4) : host;
  let port = portText === undefined ? undefined : parseIntIn("VXLAN port", portText, 1, 65535);
  const portOpt = int("port", 1, 65535);
  if (port !== undefined && portOpt !== undefined && port !== portOpt) {
    throw fail(`two different ports (:${port} and port=${portOpt})`);
  }
  port ??= portOpt;

  let bind: string | undefined;
  let localPort: number | undefined;
  const bindText = params.get("bind");
  if (bindText !== undefined) {
    const hp = splitHostPort(bindText, "vxlan bind address");
    bind = hp.host === "" ? undefined : hp.host;
    if (hp.port !== undefined) localPort = parseIntIn("vxlan bind port", hp.port, 0, 65535);
  }
  const ageing = int("ageing", 1, 1_000_000) ?? int("expiretime", 1, 1_000_000);
  return {
    remote,
    port,
    localPort,
    bind,
    ifname: params.get("if") || undefined,
    vni: int("vni", 0, MAX_VNI),
    ttl: int("ttl", 1, 255),
    mtu: int("mtu", 68, MAX_FRAME),
    ageingMs: ageing === undefined ? undefined : ageing * 1000,
    learn: bool("learn"),
    tagged: bool("tagged"),
    url: url.text,
  };
}

/** The `vxlan` endpoint kind for `openEndpoint`. */
export const vxlanKind: EndpointKind = {
  scheme: "vxlan",
  syntax: "vxlan://[GROUP|PEER][:PORT][?vni=N&ttl=N&bind=ADDR[:PORT]&if=NAME&mtu=N] — " +
    "a VXLAN tunnel endpoint (RFC 7348; Linux vxlan, vdeplug4 vxlan://)",
  open(url, ctx) {
    return openVxlan({ ...parseVxlanUrl(url), logger: ctx.logger });
  },
};
