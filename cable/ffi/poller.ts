/**
 * One `poll(2)` loop per process for the file descriptors weft drives through FFI (datagram
 * sockets, later TAPs). Deno's own event loop does not know these descriptors, so a loop here
 * waits for them with the nonblocking (worker-thread) `poll` binding and calls their handlers on
 * the JS thread when it returns.
 *
 * - Handlers are level-triggered, like the `poll()` loop of vde_switch (vde-2 `src/vde_switch/
 *   consmgmt.c`/`datasock.c`): a handler that leaves data unread is called again next round.
 * - The pollfd array handed to the worker thread is never touched while that call is in flight:
 *   a change to the set (register, unregister, interest) marks it dirty and wakes the call through
 *   an eventfd that is always entry 0; the array is rebuilt after the call returns. Every buffer
 *   passed to FFI is a field of this object, so it stays referenced while native code may use it.
 * - With no descriptor registered the loop ends, so the poller never keeps the process alive by
 *   itself; registering again restarts it.
 * - A handler that throws is caught and counted (`errors`, `lastError`, `onError`); the loop goes
 *   on (ARCHITECTURE §5: no background loop may die or end the process).
 */

import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  errno,
  libc,
  POLLERR,
  POLLFD_SIZE,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  SysError,
} from "./libc.ts";

export { POLLIN, POLLOUT };

/** What a registered descriptor is told. Both are called synchronously on the JS thread. */
export interface PollHandler {
  /** Data (or an error/hang-up condition, to be discovered by reading) is there. */
  readable(): void;
  /** There is room to write (only reported while POLLOUT is in the interest set). */
  writable(): void;
}

interface Registration {
  fd: number;
  handler: PollHandler;
  events: number;
  active: boolean;
}

/**
 * How long (ms) the loop may go on with synchronous zero-timeout polls while descriptors keep
 * being ready, before it must take the worker-thread path — which is when timers and Deno's own
 * I/O get their turn. A worker-thread round costs ~15 µs plus an event-loop turn; skipping it
 * while busy is worth 3–5× in frames/s.
 */
const SPIN_BUDGET_MS = 1;

export class Poller {
  /** Handler exceptions and loop failures caught so far. */
  errors = 0;
  lastError: unknown;
  /** Called with each caught exception (e.g. to log it); its own exceptions are ignored. */
  onError: ((e: unknown) => void) | undefined;
  /** Completed poll rounds (for benchmarks and tests). */
  rounds = 0;

  #regs = new Map<number, Registration>();
  #dirty = true;
  /** pollfd array of the current round; entry 0 is the wake eventfd. */
  #fds = new Uint8Array(POLLFD_SIZE * 16);
  #view = new DataView(this.#fds.buffer);
  #n = 0;
  #nfds = 0n;
  /** Registration of each pollfd entry of the current round (index 0 unused). */
  #entries: (Registration | undefined)[] = [];
  #wakeFd = -1;
  #wakeValue = new Uint8Array(new BigUint64Array([1n]).buffer);
  #wakeDrain = new Uint8Array(8);
  #running = false;
  #inFlight = false;
  #woken = false;
  #idle: Promise<void> = Promise.resolve();
  #resolveIdle: () => void = () => {};

  /** Number of registered descriptors. */
  get size(): number {
    return this.#regs.size;
  }

  /** Whether the loop is running (a poll may be in flight on a worker thread). */
  get running(): boolean {
    return this.#running;
  }

  /** Resolves once the loop has stopped (immediately when it is not running). */
  idle(): Promise<void> {
    return this.#idle;
  }

  /**
   * Watch `fd` for `events` (POLLIN and/or POLLOUT). One registration per descriptor: an open
   * descriptor number is unique, so an existing registration for it belongs to a descriptor that
   * was closed without `unregister` — it is replaced, and counted as an error.
   */
  register(fd: number, handler: PollHandler, events: number = POLLIN): void {
    const stale = this.#regs.get(fd);
    if (stale !== undefined) {
      stale.active = false;
      this.#caught(new Error(`fd ${fd} was closed without unregistering from the poller`));
    }
    this.#regs.set(fd, { fd, handler, events, active: true });
    this.#changed();
    if (!this.#running) this.#start();
  }

  /** Change the interest set of a registered descriptor (no-op when unchanged or unknown). */
  setInterest(fd: number, events: number): void {
    const r = this.#regs.get(fd);
    if (r === undefined || r.events === events) return;
    r.events = events;
    this.#changed();
  }

  /**
   * Stop watching `fd`. Call it before closing the descriptor: a poll in flight keeps its own
   * reference to the file and is woken so that it lets go promptly.
   */
  unregister(fd: number): void {
    const r = this.#regs.get(fd);
    if (r === undefined) return;
    r.active = false;
    this.#regs.delete(fd);
    this.#changed();
  }

  #changed(): void {
    this.#dirty = true;
    if (this.#inFlight && !this.#woken) {
      this.#woken = true;
      libc().write(this.#wakeFd, this.#wakeValue, 8n);
    }
  }

  #start(): void {
    const c = libc();
    if (this.#wakeFd < 0) {
      this.#wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (this.#wakeFd < 0) throw new SysError("eventfd", errno());
    }
    this.#running = true;
    this.#idle = new Promise((r) => (this.#resolveIdle = r));
    this.#loop().catch((e) => {
      // The loop itself failed (not a handler): report it and start over shortly, so the
      // registered descriptors are not silently abandoned.
      this.#caught(e);
      setTimeout(() => {
        if (!this.#running && this.#regs.size > 0) this.#start();
      }, 100);
    });
  }

  async #loop(): Promise<void> {
    const c = libc();
    let failures = 0;
    try {
      let spinUntil = 0;
      while (this.#regs.size > 0) {
        if (this.#dirty) this.#rebuild();
        if (performance.now() < spinUntil) {
          // Busy: ask synchronously first (see SPIN_BUDGET_MS).
          const ready = c.poll(this.#fds, this.#nfds, 0);
          if (ready > 0) {
            this.rounds++;
            this.#dispatch();
            await null;
            continue;
          }
        }
        this.#inFlight = true;
        let r: number;
        try {
          r = await c.poll_nb(this.#fds, this.#nfds, -1);
        } finally {
          this.#inFlight = false;
          this.#woken = false;
        }
        this.rounds++;
        if (r < 0) {
          // EINTR, or something that will repeat (errno is on the worker thread): back off
          // so that a persistent failure cannot spin.
          if (++failures > 3) await new Promise((res) => setTimeout(res, 10));
          continue;
        }
        failures = 0;
        spinUntil = performance.now() + SPIN_BUDGET_MS;
        if (r > 0) this.#dispatch();
        // Let the microtasks queued by the handlers (endpoint flushes) run before the next
        // round, so that an interest change they make is part of it.
        await null;
      }
    } finally {
      this.#running = false;
      this.#resolveIdle();
    }
  }

  #rebuild(): void {
    const n = this.#regs.size + 1;
    if (this.#fds.length < n * POLLFD_SIZE) {
      // Not in flight now (rebuilds happen between rounds), so the old array may go.
      this.#fds = new Uint8Array(POLLFD_SIZE * Math.max(n, this.#fds.length / POLLFD_SIZE * 2));
      this.#view = new DataView(this.#fds.buffer);
    }
    const v = this.#view;
    const entries = this.#entries;
    entries.length = n;
    v.setInt32(0, this.#wakeFd, true);
    v.setInt16(4, POLLIN, true);
    v.setInt16(6, 0, true);
    let i = 1;
    for (const r of this.#regs.values()) {
      v.setInt32(i * POLLFD_SIZE, r.fd, true);
      v.setInt16(i * POLLFD_SIZE + 4, r.events, true);
      v.setInt16(i * POLLFD_SIZE + 6, 0, true);
      entries[i++] = r;
    }
    this.#n = n;
    this.#nfds = BigInt(n);
    this.#dirty = false;
  }

  #dispatch(): void {
    const v = this.#view;
    if (v.getInt16(6, true) !== 0) libc().read(this.#wakeFd, this.#wakeDrain, 8n);
    for (let i = 1; i < this.#n; i++) {
      const revents = v.getInt16(i * POLLFD_SIZE + 6, true);
      if (revents === 0) continue;
      const r = this.#entries[i]!;
      if (!r.active) continue; // unregistered (maybe closed, maybe reused) during the round
      if (revents & POLLNVAL) {
        // Closed without unregistering: drop it instead of spinning on it.
        this.unregister(r.fd);
        this.#caught(new Error(`fd ${r.fd} was closed while registered with the poller`));
        continue;
      }
      if (revents & (POLLIN | POLLERR | POLLHUP)) {
        try {
          r.handler.readable();
        } catch (e) {
          this.#caught(e);
        }
      }
      if (revents & POLLOUT && r.active) {
        try {
          r.handler.writable();
        } catch (e) {
          this.#caught(e);
        }
      }
    }
  }

  #caught(e: unknown): void {
    this.errors++;
    this.lastError = e;
    try {
      this.onError?.(e);
    } catch {
      // The reporter failed too: the count above still says something went wrong.
    }
  }
}

let instance: Poller | undefined;

/** The process's poller. */
export function poller(): Poller {
  return instance ??= new Poller();
}
