/**
 * Parked promises woken by engine events. The engines are synchronous and report "something
 * changed" through events; a socket operation that cannot complete parks here and, once woken,
 * re-checks the core. So there are no busy loops and no timers: every wake-up comes from an event.
 */

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class Waiters {
  #list: Waiter[] = [];

  get size(): number {
    return this.#list.length;
  }

  /** Park until the next `wake()` (resolves) or `fail(e)` (rejects). */
  wait(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#list.push({ resolve, reject });
    });
  }

  /** Resolve everyone parked; they re-check the state themselves. */
  wake(): void {
    if (this.#list.length === 0) return;
    const list = this.#list;
    this.#list = [];
    for (const w of list) w.resolve();
  }

  /** Reject everyone parked with `e`. */
  fail(e: Error): void {
    if (this.#list.length === 0) return;
    const list = this.#list;
    this.#list = [];
    for (const w of list) w.reject(e);
  }
}
