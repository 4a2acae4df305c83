/**
 * `tap://NAME[?mtu=N&persist&netns=NS]` — a Linux TAP device: the host kernel's side of an
 * Ethernet link, opened through /dev/net/tun with libc FFI (no helper program, no vde_plug).
 *
 * - NAME: the interface name, 1 to 15 bytes (IFNAMSIZ 16 with its NUL), without `/`, `:` or
 *   white space; one `%d` lets the kernel pick a number (`wt%d` → `wt0`), and the endpoint's URL
 *   then names the device it got.
 * - `mtu=N`: set the link MTU (68 to 65,521, the tap driver's limit: 65,535 - 14). Without it the
 *   device keeps the MTU it has (1,500 for a new one).
 * - `persist`: the device outlives the endpoint (TUNSETPERSIST), like `ip tuntap add`. Without
 *   it a device weft created vanishes when the endpoint closes; attaching to a device that is
 *   already persistent leaves it persistent.
 * - `netns=NS`: create or attach to the device in network namespace NS (`/run/netns/NS`, as made
 *   by `ip netns add`, or a path such as `/proc/PID/ns/net`) instead of weft's own. Needs
 *   CAP_SYS_ADMIN. Once open, the descriptor works from any namespace.
 *
 * How (Linux Documentation/networking/tuntap.rst, §3.1 "Network device allocation" and §3.2
 * "Frame format"): open /dev/net/tun, then `ioctl(TUNSETIFF)` with IFF_TAP | IFF_NO_PI creates
 * the device, or attaches to an existing persistent one of that name. IFF_NO_PI leaves out the
 * 4-byte packet-information header, so each read() returns exactly one Ethernet frame and each
 * write() injects exactly one (no FCS). The link MTU is set with SIOCSIFMTU and the link brought
 * up with SIOCGIFFLAGS/SIOCSIFFLAGS on an AF_INET datagram socket — the same calls `ip link`
 * makes through netlink, without running it (ioctl was preferred: no child process, no
 * dependency on iproute2, and an errno to report).
 *
 * Receive: a character device cannot be put on Deno's reactor, so the FFI poller (ffi/poller.ts)
 * watches the descriptor. When it is readable, frames are read one read() each until EAGAIN (at
 * most RX_BUDGET frames or RX_BUDGET_BYTES per wake-up, then the level-triggered poller comes
 * back), each into one receive buffer shared by every tap of the process and handed to the sink
 * as a borrowed view of it (ARCHITECTURE §3). No frame the kernel hands a tap without
 * IFF_VNET_HDR is longer than MTU + 18 (GSO is segmented before it reaches us), but a 65,536-byte
 * buffer takes anything; longer than `mtu` is dropped as `oversize`, under 14 bytes as `runt`.
 *
 * Send: `send()` copies the frame into a bounded out-queue (1,024 frames, 2 MiB by default; a
 * full queue drops and counts `queueFull`), flushed once per event-loop turn (a microtask) with one
 * write() per frame: a tun descriptor takes one frame per write and has no batched call (writev
 * would concatenate its vectors into one frame). A tap write does not block in practice: with the
 * default rx_batched = 0 the kernel runs the frame through its receive path inside the write
 * (drivers/net/tun.c tun_rx_batched → netif_receive_skb), so there is no backlog to overflow, and
 * many writes in one synchronous loop are fine (measured in tap_test.ts: 1,024 frames written back
 * to back all arrive). EAGAIN can still come (a socket send-buffer limit set with TUNSETSNDBUF):
 * the rest stays queued and the poller is asked for POLLOUT. A write while the link is
 * administratively down fails with EIO: that frame is dropped and counted `linkDown`.
 *
 * A device deleted under us (`ip link del`) makes reads and writes fail with EBADFD: the endpoint
 * closes, with `closeReason`. Closing the endpoint closes the descriptor.
 */

import { EndpointBase } from "../core/endpoint_base.ts";
import { MAX_FRAME, MIN_FRAME } from "../core/endpoint.ts";
import { ConfigError, parseIntIn } from "../core/errors.ts";
import {
  AF_INET,
  CLONE_NEWNET,
  closeFd,
  cString,
  EACCES,
  EAGAIN,
  EBADF,
  EBADFD,
  EBUSY,
  EINTR,
  EINVAL,
  EIO,
  ENODEV,
  ENOENT,
  ENXIO,
  EPERM,
  errno,
  errnoName,
  IOVEC_SIZE,
  libc,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  storeAddress,
} from "./ffi/libc.ts";
import { FrameQueue } from "./frame_queue.ts";
import { poller, type PollHandler, POLLIN, POLLOUT } from "./ffi/poller.ts";
import type { EndpointKind } from "./registry.ts";

// ---- <linux/if_tun.h>, <linux/if.h>, <linux/sockios.h> ----

/** _IOW('T', 202, int) */
const TUNSETIFF = 0x400454can;
/** _IOW('T', 203, int) */
const TUNSETPERSIST = 0x400454cbn;
const SIOCGIFFLAGS = 0x8913n;
const SIOCSIFFLAGS = 0x8914n;
const SIOCGIFMTU = 0x8921n;
const SIOCSIFMTU = 0x8922n;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_UP = 0x1;
/** sizeof(struct ifreq) on 64-bit Linux: ifr_name[16], then a 24-byte union. */
const IFREQ_SIZE = 40;
/** Offset of the union (ifr_flags: short, ifr_mtu: int). */
const IFR_DATA = 16;
const IFNAMSIZ = 16;

/** The smallest and largest link MTU of a tap (ETH_MIN_MTU; tun.c: MAX_MTU 65535 - ETH_HLEN). */
export const TAP_MIN_MTU = 68;
export const TAP_MAX_MTU = 65521;
/** What a frame adds to the link MTU at most: the Ethernet header and one 802.1Q tag. */
const FRAME_OVERHEAD = 14 + 4;

/** Frames read per readable event at most, before other descriptors get their turn. */
const RX_BUDGET = 256;
/** Bytes read per readable event at most (keeps the queues the frames go to from overflowing). */
const RX_BUDGET_BYTES = 1024 * 1024;
/** Bytes per read: any frame fits, so the kernel never truncates one. */
const RX_SIZE = 65536;
const RX_SIZE_N = 65536n;
/** Out-queue bound in frames. */
const MAX_QUEUE_FRAMES = 1024;

/**
 * The receive buffer, shared by every tap of the process: frames handed out of it are borrowed,
 * so the next read may reuse it. Module-level, so it stays referenced while libc writes into it.
 */
const rx = { buf: new Uint8Array(0), busy: false };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface OpenTapOptions {
  /** Link MTU to set (68 to 65,521). Default: keep the device's MTU. */
  mtu?: number;
  /** Make the device persistent (TUNSETPERSIST 1): it stays after the endpoint closes. */
  persist?: boolean;
  /** Network namespace to open the device in: a name in /run/netns or a path. */
  netns?: string;
  /** Out-queue bound in frames (default and maximum 1,024). */
  queueFrames?: number;
  /** Out-queue bound in bytes (default 2 MiB; never below one frame of `mtu`). */
  queueBytes?: number;
  /** The URL as the user wrote it, for messages; `tap://NAME` otherwise. */
  url?: string;
  /** The clone device (default /dev/net/tun); tests point it elsewhere. */
  device?: string;
}

/**
 * Why an interface name is not acceptable to Linux (net/core/dev.c `dev_valid_name`), or
 * undefined when it is. `%d` once is allowed: the kernel fills in a free number.
 */
export function invalidTapName(name: string): string | undefined {
  const bytes = encoder.encode(name).length;
  if (bytes === 0) return "the interface name is empty";
  if (bytes >= IFNAMSIZ) {
    return `interface name "${name}" is ${bytes} bytes; Linux allows at most ${
      IFNAMSIZ - 1
    } (IFNAMSIZ)`;
  }
  if (name === "." || name === "..") return `"${name}" is not an interface name`;
  if (/[/:\s\0]/.test(name)) {
    return `interface name "${name}" contains '/', ':', NUL or white space`;
  }
  if (name.replace("%d", "").includes("%")) {
    return `interface name "${name}" may contain '%' only as one "%d"`;
  }
  return undefined;
}

/**
 * Open (create or attach to) the TAP device `name`. Synchronous: everything is a system call.
 * Throws a ConfigError `Cannot open endpoint "tap://…": why` on any failure, with nothing left
 * open or created.
 */
export function openTap(name: string, opts: OpenTapOptions = {}): TapEndpoint {
  const shown = opts.url ?? `tap://${name}`;
  const fail = (why: string) => new ConfigError(`Cannot open endpoint "${shown}": ${why}`);
  const bad = invalidTapName(name);
  if (bad !== undefined) throw fail(bad);
  if (opts.mtu !== undefined && !(opts.mtu >= TAP_MIN_MTU && opts.mtu <= TAP_MAX_MTU)) {
    throw fail(`mtu ${opts.mtu} is out of range (${TAP_MIN_MTU} to ${TAP_MAX_MTU})`);
  }
  let c;
  try {
    c = libc();
  } catch (e) {
    throw fail(e instanceof Error ? e.message : String(e));
  }
  const device = opts.device ?? "/dev/net/tun";
  const dev = inNetns(opts.netns, fail, () => setUpDevice(c, device, name, opts, fail));
  try {
    return new TapEndpoint(dev.fd, dev.name, dev.mtu, {
      ...opts,
      url: `tap://${dev.name}`,
    });
  } catch (e) {
    closeFd(dev.fd);
    throw fail(e instanceof Error ? e.message : String(e));
  }
}

interface OpenedDevice {
  fd: number;
  /** The name the kernel gave (differs from the asked one with `%d`). */
  name: string;
  /** The link MTU. */
  mtu: number;
}

type Libc = ReturnType<typeof libc>;

/** Open the clone device, TUNSETIFF, MTU, up, persist — in the current network namespace. */
function setUpDevice(
  c: Libc,
  device: string,
  name: string,
  opts: OpenTapOptions,
  fail: (why: string) => ConfigError,
): OpenedDevice {
  const fd = c.open(cString(device), O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) throw fail(openFailure(device, errno()));
  let sock = -1;
  try {
    const ifr = new Uint8Array(IFREQ_SIZE);
    const view = new DataView(ifr.buffer);
    ifr.set(encoder.encode(name));
    view.setInt16(IFR_DATA, IFF_TAP | IFF_NO_PI, true);
    if (c.ioctl(fd, TUNSETIFF, ifr) < 0) throw fail(setIffFailure(name, errno()));
    // The kernel wrote back the name it used (a `%d` template is filled in).
    const end = ifr.indexOf(0);
    const actual = decoder.decode(ifr.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end));
    sock = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) throw fail(`cannot create a socket for interface ioctls: ${errnoName(errno())}`);
    const req = new Uint8Array(IFREQ_SIZE);
    const rv = new DataView(req.buffer);
    const named = () => {
      req.fill(0);
      req.set(encoder.encode(actual));
    };
    named();
    if (c.ioctl(sock, SIOCGIFMTU, req) < 0) {
      throw fail(`cannot read the MTU of ${actual} (SIOCGIFMTU): ${errnoName(errno())}`);
    }
    let mtu = rv.getInt32(IFR_DATA, true);
    if (opts.mtu !== undefined && opts.mtu !== mtu) {
      named();
      rv.setInt32(IFR_DATA, opts.mtu, true);
      if (c.ioctl(sock, SIOCSIFMTU, req) < 0) {
        throw fail(
          `cannot set the MTU of ${actual} to ${opts.mtu} (SIOCSIFMTU): ${errnoName(errno())}`,
        );
      }
      mtu = opts.mtu;
    }
    named();
    if (c.ioctl(sock, SIOCGIFFLAGS, req) < 0) {
      throw fail(`cannot read the flags of ${actual} (SIOCGIFFLAGS): ${errnoName(errno())}`);
    }
    const flags = rv.getUint16(IFR_DATA, true);
    // Only when needed: a user who owns a persistent tap that is already up needs no privilege.
    if ((flags & IFF_UP) === 0) {
      rv.setUint16(IFR_DATA, flags | IFF_UP, true);
      if (c.ioctl(sock, SIOCSIFFLAGS, req) < 0) {
        throw fail(`cannot bring ${actual} up (SIOCSIFFLAGS): ${errnoName(errno())}`);
      }
    }
    // Last, so that a failure above leaves no device behind that weft created.
    if (opts.persist && c.ioctl_value(fd, TUNSETPERSIST, 1n) < 0) {
      throw fail(`cannot make ${actual} persistent (TUNSETPERSIST): ${errnoName(errno())}`);
    }
    return { fd, name: actual, mtu };
  } catch (e) {
    closeFd(fd); // a device weft just created (not persistent) goes with it
    throw e;
  } finally {
    closeFd(sock);
  }
}

function openFailure(device: string, e: number): string {
  if (e === ENOENT) {
    return `${device} does not exist (no TUN/TAP support here: modprobe tun, or as root ` +
      `mkdir -p /dev/net && mknod /dev/net/tun c 10 200)`;
  }
  if (e === ENODEV || e === ENXIO) return `the kernel has no TUN/TAP driver (modprobe tun)`;
  if (e === EACCES || e === EPERM) return `permission denied opening ${device}`;
  return `cannot open ${device}: ${errnoName(e)}`;
}

function setIffFailure(name: string, e: number): string {
  if (e === EPERM) {
    return `creating or attaching to TAP ${name} needs CAP_NET_ADMIN (run as root, or create ` +
      `it for your user first: ip tuntap add ${name} mode tap user USER)`;
  }
  if (e === EBUSY) return `TAP ${name} is in use by another process`;
  if (e === EINVAL) {
    return `${name} exists and is not a TAP device (or is a TAP with other flags)`;
  }
  return `TUNSETIFF ${name}: ${errnoName(e)}`;
}

/**
 * Run `fn` with this thread in network namespace `netns` (setns(2) affects only the calling
 * thread, and FFI calls run on the JS thread), then return to the thread's own. The window is
 * synchronous: no other JavaScript, and no socket Deno opens, can run inside it.
 */
function inNetns<T>(
  netns: string | undefined,
  fail: (why: string) => ConfigError,
  fn: () => T,
): T {
  if (netns === undefined) return fn();
  const c = libc();
  if (netns === "" || netns.includes("\0")) throw fail(`invalid netns "${netns}"`);
  const path = netns.includes("/") ? netns : `/run/netns/${netns}`;
  const target = c.open(cString(path), O_RDONLY | O_CLOEXEC, 0);
  if (target < 0) {
    throw fail(`cannot open network namespace ${path}: ${errnoName(errno())}`);
  }
  const home = c.open(cString("/proc/thread-self/ns/net"), O_RDONLY | O_CLOEXEC, 0);
  try {
    if (home < 0) throw fail(`cannot open this thread's network namespace: ${errnoName(errno())}`);
    if (c.setns(target, CLONE_NEWNET) !== 0) {
      const e = errno();
      throw fail(
        `cannot enter network namespace ${path}: ${errnoName(e)}${
          e === EPERM ? " (needs CAP_SYS_ADMIN)" : e === EINVAL ? " (not a network namespace)" : ""
        }`,
      );
    }
    let result: { value: T } | { error: unknown };
    try {
      result = { value: fn() };
    } catch (error) {
      result = { error };
    }
    if (c.setns(home, CLONE_NEWNET) !== 0) {
      // Not recoverable: every socket this thread opens from now on would be in `path`.
      throw new Error(`Cannot return to weft's own network namespace: ${errnoName(errno())}`);
    }
    if ("error" in result) throw result.error;
    return result.value;
  } finally {
    closeFd(target);
    closeFd(home);
  }
}

/** Options of a TapEndpoint over an already set-up descriptor. */
export interface TapEndpointOptions {
  queueFrames?: number;
  queueBytes?: number;
  url?: string;
}

/**
 * An endpoint on a TAP descriptor (non-blocking, IFF_TAP | IFF_NO_PI): owns the descriptor from
 * construction on. Use `openTap` to get one.
 */
export class TapEndpoint extends EndpointBase implements PollHandler {
  readonly fd: number;
  /** The interface name. */
  readonly name: string;
  /** The link MTU (largest IP packet), as the kernel reported it when the tap was opened. */
  readonly linkMtu: number;
  /** errno name of the failure that closed the endpoint, if one did. */
  closeReason: string | undefined;
  /** errno name of the last write failure that dropped a frame, if any. */
  lastError: string | undefined;

  readonly #queue: FrameQueue;
  /** One struct iovec (a field: it stays referenced while libc reads it). */
  readonly #iov = new Uint8Array(IOVEC_SIZE);
  readonly #iov32 = new Uint32Array(this.#iov.buffer);

  constructor(fd: number, name: string, linkMtu: number, opts: TapEndpointOptions = {}) {
    super(opts.url ?? `tap://${name}`, Math.min(MAX_FRAME, linkMtu + FRAME_OVERHEAD));
    this.fd = fd;
    this.name = name;
    this.linkMtu = linkMtu;
    this.#queue = new FrameQueue(
      Math.max(1, Math.min(opts.queueFrames ?? MAX_QUEUE_FRAMES, MAX_QUEUE_FRAMES)),
      Math.max(this.mtu, opts.queueBytes ?? 2 * 1024 * 1024),
      undefined,
      () => this.#flush(),
    );
    if (rx.buf.length === 0) rx.buf = new Uint8Array(RX_SIZE);
    poller().register(fd, this, POLLIN);
  }

  /** Frames waiting in the out-queue. */
  get queuedFrames(): number {
    return this.#queue.frames;
  }

  send(frame: Uint8Array): boolean {
    const c = this.counters;
    const len = frame.length;
    const why = this.unfit(len);
    if (why) return c.drop(why);
    if (!this.#queue.push(frame)) return c.drop("queueFull");
    c.countOut(len);
    return true;
  }

  /** Called by the poller: read frames until EAGAIN (or the budget is spent). */
  readable(): void {
    if (this.isClosed || rx.busy) return; // a nested drain: the poller comes back next round
    const c = libc();
    const buf = rx.buf;
    const counters = this.counters;
    const fd = this.fd;
    const mtu = this.mtu;
    rx.busy = true;
    try {
      let bytes = 0;
      for (let i = 0; i < RX_BUDGET && bytes < RX_BUDGET_BYTES; i++) {
        const n = Number(c.read(fd, buf, RX_SIZE_N));
        if (n < 0) {
          const e = errno();
          if (e === EINTR) continue;
          if (e !== EAGAIN) this.#fail(e);
          return;
        }
        bytes += n;
        if (n > mtu) counters.drop("oversize");
        else if (n < MIN_FRAME) counters.drop("runt");
        else {
          this.deliver(buf.subarray(0, n));
          if (this.isClosed) return; // the sink closed us
        }
      }
    } finally {
      rx.busy = false;
    }
  }

  /** Called by the poller while POLLOUT is wanted. */
  writable(): void {
    if (this.#queue.blocked) this.#flush();
  }

  protected closeResources(): void {
    const pending = this.#queue.reset();
    if (pending > 0) this.counters.drop("closed", pending);
    poller().unregister(this.fd);
    closeFd(this.fd); // the last descriptor of a non-persistent tap: the device goes with it
  }

  #fail(e: number): void {
    this.closeReason = e === EBADFD ? "EBADFD (the device was deleted)" : errnoName(e);
    this.close();
  }

  #flush(): void {
    if (this.isClosed) return;
    const c = libc();
    const fd = this.fd;
    const iov = this.#iov;
    const iov32 = this.#iov32;
    const q = this.#queue;
    const base = q.base;
    const offs = q.offs;
    const lens = q.lens;
    let head = q.head;
    const count = q.count;
    while (head < count) {
      // writev with one vector: the frame's address goes into a prepared iovec, so a write
      // allocates nothing (no subarray view, no BigInt length).
      storeAddress(iov32, 0, base + offs[head]);
      iov32[2] = lens[head];
      const r = Number(c.writev(fd, iov, 1));
      if (r >= 0) {
        head++;
        continue;
      }
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) {
        q.head = head;
        if (!this.#queue.blocked) {
          this.#queue.blocked = true;
          poller().setInterest(fd, POLLIN | POLLOUT);
        }
        return;
      }
      if (e === EBADFD || e === EBADF) return this.#fail(e);
      // This frame cannot go (EIO: the link is down; EINVAL, ENOMEM, …): drop it, go on.
      this.counters.drop(e === EIO ? "linkDown" : "sendError");
      this.lastError = errnoName(e);
      head++;
    }
    q.reset();
    if (this.#queue.blocked) {
      this.#queue.blocked = false;
      poller().setInterest(fd, POLLIN);
    }
  }
}

/** A query flag: present without a value, or 1/true/yes, or 0/false/no. */
function flag(url: { text: string; params: URLSearchParams }, key: string): boolean {
  const v = url.params.get(key);
  if (v === null) return false;
  if (/^(|1|true|yes)$/i.test(v)) return true;
  if (/^(0|false|no)$/i.test(v)) return false;
  throw new ConfigError(
    `Cannot open endpoint "${url.text}": invalid ${key}=${v} (expected ${key}, ${key}=1 or ${key}=0)`,
  );
}

const OPTIONS = ["mtu", "persist", "netns"];

/** The `tap` endpoint kind for `openEndpoint`. */
export const tapKind: EndpointKind = {
  scheme: "tap",
  syntax: "tap://NAME[?mtu=N&persist&netns=NS] — a host TAP device (/dev/net/tun), raw frames",
  // deno-lint-ignore require-await
  async open(url) {
    for (const key of url.params.keys()) {
      if (!OPTIONS.includes(key)) {
        throw new ConfigError(
          `Cannot open endpoint "${url.text}": unknown option "${key}" (tap takes ${
            OPTIONS.join(", ")
          })`,
        );
      }
    }
    const mtuText = url.params.get("mtu");
    return openTap(url.rest, {
      mtu: mtuText === null ? undefined : parseIntIn("tap mtu", mtuText, TAP_MIN_MTU, TAP_MAX_MTU),
      persist: flag(url, "persist"),
      netns: url.params.get("netns") ?? undefined,
      url: url.text,
    });
  },
};
