/**
 * A frame endpoint on a connected, non-blocking AF_UNIX SOCK_DGRAM socket driven through libc
 * FFI: one Ethernet frame per datagram, no header — the data path of the VDE protocol
 * (docs/PROTOCOLS.md §1; vde-2 `src/vde_switch/datasock.c`, vdeplug4 `libvdeplug_vde.c`).
 *
 * Receive: when the poller says the socket is readable, it is drained with `recvmmsg` in batches
 * of 64 datagrams into one receive pool shared by every socket of the process. That is safe
 * because received frames are borrowed (ARCHITECTURE §3): each is handed to the sink
 * synchronously as a view of its pool slot and the slot is reused by the next batch. Slots hold
 * 65,536 bytes, so frames up to 65,535 bytes (MAX_FRAME) pass; a longer datagram is truncated by
 * the kernel (MSG_TRUNC), dropped and counted `oversize`; a datagram under 14 bytes is `runt`.
 *
 * Send: `send()` copies the frame into a bounded per-endpoint queue (1,024 frames — the kernel's
 * UIO_MAXIOV, the most one `sendmmsg` takes — and 2 MiB by default); a full queue drops and
 * counts `queueFull`. The queue is flushed once per event-loop turn (a microtask) with
 * `sendmmsg`. On EAGAIN the rest stays queued and the poller is asked for POLLOUT. EAGAIN is
 * routine: a Linux unix datagram receive queue holds only net.unix.max_dgram_qlen = 10
 * datagrams, and queueing instead of dropping is what keeps TCP through a switch fast.
 *
 * A peer that is gone (ECONNREFUSED, ECONNRESET, ENOTCONN, EPIPE) closes the endpoint. For the
 * VDE kinds the usual end is the control stream's EOF (cable/vde.ts), as in vde_switch.
 */

import { EndpointBase } from "../core/endpoint_base.ts";
import { MAX_FRAME, MIN_FRAME } from "../core/endpoint.ts";
import {
  addressOf,
  closeFd,
  EAGAIN,
  EBADF,
  ECONNREFUSED,
  ECONNRESET,
  EINTR,
  ENOTCONN,
  EPIPE,
  errno,
  errnoName,
  IOVEC_SIZE,
  libc,
  MMSGHDR_SIZE,
  MSG_DONTWAIT,
  MSG_TRUNC,
  storeAddress,
} from "./ffi/libc.ts";
import { FrameQueue } from "./frame_queue.ts";
import { poller, type PollHandler, POLLIN, POLLOUT } from "./ffi/poller.ts";

/** Datagrams per `recvmmsg` call. */
const RX_SLOTS = 64;
/** Bytes per receive slot: MAX_FRAME fits, one more byte lets MSG_TRUNC tell longer ones. */
const RX_SLOT_SIZE = 65536;
/** Batches per readable event before other descriptors get their turn (level-triggered). */
const RX_ROUNDS = 16;
/** The kernel's UIO_MAXIOV: the most messages one sendmmsg call takes. */
const MAX_QUEUE_FRAMES = 1024;

// struct mmsghdr as Uint32 indexes (MMSGHDR_SIZE / 4 = 16 words per entry).
const W_IOV = 4; // msg_iov (pointer, 2 words)
const W_IOVLEN = 6; // msg_iovlen (size_t, 2 words)
const W_FLAGS = 12; // msg_flags
const W_LEN = 14; // msg_len

const PEER_GONE = new Set([ECONNREFUSED, ECONNRESET, ENOTCONN, EPIPE, EBADF]);

/** Fill `hdrs` so that entry i uses iovec i with one element. */
function linkIovecs(hdr32: Uint32Array, iov: Uint8Array, n: number): void {
  const iovBase = addressOf(iov);
  for (let i = 0; i < n; i++) {
    storeAddress(hdr32, i * 16 + W_IOV, iovBase + i * IOVEC_SIZE);
    hdr32[i * 16 + W_IOVLEN] = 1;
  }
}

/**
 * The receive pool, shared by all sockets (see the module doc). Module-level, so every buffer
 * recvmmsg writes into stays referenced for the life of the process.
 */
class RxPool {
  readonly buf = new Uint8Array(RX_SLOTS * RX_SLOT_SIZE);
  readonly hdrs = new Uint8Array(RX_SLOTS * MMSGHDR_SIZE);
  readonly hdr32 = new Uint32Array(this.hdrs.buffer);
  readonly iov = new Uint8Array(RX_SLOTS * IOVEC_SIZE);
  readonly slots: Uint8Array[] = [];
  /** Set while a drain hands frames out of the pool: a nested drain must not overwrite them. */
  busy = false;

  constructor() {
    const iov32 = new Uint32Array(this.iov.buffer);
    const base = addressOf(this.buf);
    for (let i = 0; i < RX_SLOTS; i++) {
      storeAddress(iov32, i * 4, base + i * RX_SLOT_SIZE);
      iov32[i * 4 + 2] = RX_SLOT_SIZE;
      this.slots.push(this.buf.subarray(i * RX_SLOT_SIZE, (i + 1) * RX_SLOT_SIZE));
    }
    linkIovecs(this.hdr32, this.iov, RX_SLOTS);
  }
}

let rxPool: RxPool | undefined;

export interface UnixDgramOptions {
  /** Largest frame sent or received (default MAX_FRAME, 65,535). */
  mtu?: number;
  /** Out-queue bound in frames (default and maximum 1,024). */
  queueFrames?: number;
  /** Out-queue bound in bytes (default 2 MiB). */
  queueBytes?: number;
  /** Called once when the endpoint closes, after the socket is closed (e.g. to unlink files). */
  onClose?: () => void;
  /**
   * The Deno socket that owns `fd` (cable/dgram_socket.ts): readiness then comes from Deno's own
   * event loop (`receive()`), and closing the endpoint closes it. Without it, the FFI poller
   * watches `fd` and closing the endpoint closes `fd`.
   */
  conn?: Deno.DatagramConn;
}

/**
 * An endpoint that owns `fd`, a connected AF_UNIX datagram socket, from construction on: closing
 * the endpoint closes the descriptor.
 */
export class UnixDgramEndpoint extends EndpointBase implements PollHandler {
  readonly fd: number;
  /** errno name of the failure that closed the endpoint, if one did. */
  closeReason: string | undefined;
  /** errno name of the last send failure that dropped a frame (`sendError`), if any. */
  lastError: string | undefined;

  readonly #onClose: (() => void) | undefined;
  // Out-queue entry i has its mmsghdr (pointing at iovec i) and iovec (pointing at the frame)
  // ready, so one sendmmsg sends them all. All of these are fields: they stay referenced while
  // libc uses them.
  readonly #queue: FrameQueue;
  readonly #hdrs: Uint8Array;
  readonly #iov: Uint8Array;
  readonly #conn: Deno.DatagramConn | undefined;
  /** Registered with the poller: always without `conn`, only while waiting for POLLOUT with it. */
  #polled = false;

  constructor(fd: number, url: string, opts: UnixDgramOptions = {}) {
    super(url, opts.mtu ?? MAX_FRAME);
    this.fd = fd;
    const maxFrames = Math.max(1, Math.min(opts.queueFrames ?? MAX_QUEUE_FRAMES, MAX_QUEUE_FRAMES));
    this.#onClose = opts.onClose;
    this.#hdrs = new Uint8Array(maxFrames * MMSGHDR_SIZE);
    this.#iov = new Uint8Array(maxFrames * IOVEC_SIZE);
    const iov32 = new Uint32Array(this.#iov.buffer);
    linkIovecs(new Uint32Array(this.#hdrs.buffer), this.#iov, maxFrames);
    this.#queue = new FrameQueue(
      maxFrames,
      Math.max(this.mtu, opts.queueBytes ?? 2 * 1024 * 1024),
      (i, address, length) => {
        storeAddress(iov32, i * 4, address);
        iov32[i * 4 + 2] = length;
        iov32[i * 4 + 3] = 0;
      },
      () => this.#flush(),
    );
    rxPool ??= new RxPool();
    this.#conn = opts.conn;
    if (this.#conn) {
      this.#receiveLoop(this.#conn);
    } else {
      poller().register(fd, this, POLLIN);
      this.#polled = true;
    }
  }

  /**
   * Readiness through Deno's event loop: one datagram per `receive()`, then the rest of the burst
   * synchronously with recvmmsg (`readable()`).
   */
  async #receiveLoop(conn: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(this.mtu + 1); // one byte more tells a longer datagram
    while (!this.isClosed) {
      let data: Uint8Array;
      try {
        [data] = await conn.receive(buf);
      } catch (e) {
        if (!this.isClosed) {
          this.closeReason = e instanceof Error ? e.name : String(e);
          this.close();
        }
        return;
      }
      if (this.isClosed) return;
      this.deliverChecked(data);
      this.readable();
    }
  }

  /** Frames waiting in the out-queue. */
  get queuedFrames(): number {
    return this.#queue.frames;
  }

  /** Bytes waiting in the out-queue. */
  get queuedBytes(): number {
    return this.#queue.bytes;
  }

  /** Bytes currently allocated for the out-queue (never above the `queueBytes` bound). */
  get queueCapacity(): number {
    return this.#queue.buf.length;
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

  /** Called by the poller: drain the socket. */
  readable(): void {
    const pool = rxPool!;
    if (this.isClosed || pool.busy) return; // a nested drain: the next poll round comes back
    const c = libc();
    const h = pool.hdr32;
    const counters = this.counters;
    pool.busy = true;
    try {
      for (let round = 0; round < RX_ROUNDS; round++) {
        const n = c.recvmmsg(this.fd, pool.hdrs, RX_SLOTS, MSG_DONTWAIT, null);
        if (n <= 0) {
          const e = n < 0 ? errno() : EAGAIN;
          if (e === EINTR) continue;
          if (e !== EAGAIN) this.#fail(e);
          return;
        }
        for (let i = 0; i < n; i++) {
          const len = h[i * 16 + W_LEN];
          if (h[i * 16 + W_FLAGS] & MSG_TRUNC || len > this.mtu) counters.drop("oversize");
          else if (len < MIN_FRAME) counters.drop("runt");
          else this.deliver(pool.slots[i].subarray(0, len));
          if (this.isClosed) return; // the sink closed us
        }
        if (n < RX_SLOTS) return;
      }
    } finally {
      pool.busy = false;
    }
  }

  /** Called by the poller while POLLOUT is wanted: the peer has room again. */
  writable(): void {
    if (this.#queue.blocked) this.#flush();
  }

  protected closeResources(): void {
    const pending = this.#queue.reset();
    if (pending > 0) this.counters.drop("closed", pending);
    if (this.#polled) poller().unregister(this.fd);
    this.#polled = false;
    if (this.#conn) {
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    } else {
      closeFd(this.fd);
    }
    try {
      this.#onClose?.();
    } catch {
      // Cleanup of the owner's files: nothing to do about a failure here, and close() must not
      // throw.
    }
  }

  #fail(e: number): void {
    this.closeReason = errnoName(e);
    this.close();
  }

  #flush(): void {
    if (this.isClosed) return;
    const c = libc();
    const q = this.#queue;
    while (q.head < q.count) {
      const head = q.head;
      const hdrs = head === 0 ? this.#hdrs : this.#hdrs.subarray(head * MMSGHDR_SIZE);
      const r = c.sendmmsg(this.fd, hdrs, q.count - head, MSG_DONTWAIT);
      if (r > 0) {
        q.head = head + r;
        continue;
      }
      const e = r < 0 ? errno() : EAGAIN;
      if (e === EAGAIN) {
        if (!this.#queue.blocked) {
          this.#queue.blocked = true;
          if (this.#conn) {
            poller().register(this.fd, this, POLLOUT);
            this.#polled = true;
          } else {
            poller().setInterest(this.fd, POLLIN | POLLOUT);
          }
        }
        return;
      }
      if (e === EINTR) continue;
      if (PEER_GONE.has(e)) return this.#fail(e);
      // This one frame cannot be sent (EMSGSIZE, ENOBUFS, …): drop it and go on with the rest.
      this.counters.drop("sendError");
      this.lastError = errnoName(e);
      q.head = head + 1;
    }
    q.reset();
    if (this.#queue.blocked) {
      this.#queue.blocked = false;
      if (this.#conn) {
        poller().unregister(this.fd);
        this.#polled = false;
      } else {
        poller().setInterest(this.fd, POLLIN);
      }
    }
  }
}
