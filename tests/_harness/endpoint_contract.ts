/**
 * The shared contract every endpoint kind must pass (ARCHITECTURE §3): order, the MTU edge,
 * the borrowed-frame rule, bounded back-pressure, and close behaviour. A kind's test file calls
 * `endpointContract("kind", makeLink)` where `makeLink` returns two connected endpoints.
 */

import { assert, assertEquals, assertGreater } from "@std/assert";
import type { Endpoint } from "../../core/endpoint.ts";
import { BROADCAST, frame, mac } from "./frames.ts";

export interface Link {
  a: Endpoint;
  b: Endpoint;
  /** Release everything (idempotent). */
  cleanup(): Promise<void> | void;
}

export interface ContractOptions {
  /** Largest frame the link carries end to end (the smaller MTU of both sides). */
  mtu: number;
  /** Whether closing one side closes the other (stream and pair kinds do). */
  closePropagates: boolean;
  /**
   * Frames per burst in the order test, which then waits for the burst to arrive before sending
   * the next (default: all 500 at once). For datagram kinds without flow control (UDP): there a
   * burst larger than the receiver's socket buffer is lost, on any UDP path, by design.
   */
  burst?: number;
}

/** Wait until `cond()` holds, polling the event loop; false after `ms`. */
export async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

export function endpointContract(
  kind: string,
  makeLink: () => Promise<Link>,
  opts: ContractOptions,
): void {
  const test = (name: string, fn: (l: Link) => Promise<void>) =>
    Deno.test(`${kind}: contract: ${name}`, async () => {
      const l = await makeLink();
      try {
        await fn(l);
      } finally {
        await l.cleanup();
      }
    });

  test("frames arrive in order and byte-exact", async ({ a, b }) => {
    const got: Uint8Array[] = [];
    b.setSink((f) => got.push(f.slice()));
    const sent: Uint8Array[] = [];
    const burst = opts.burst ?? 500;
    for (let i = 0; i < 500; i++) {
      const f = frame({ dst: mac(2), src: mac(1), seq: i, length: 60 + (i % 1400) });
      sent.push(f);
      assert(a.send(f), `frame ${i} accepted`);
      if ((i + 1) % burst === 0) {
        assert(await until(() => got.length === i + 1), `received ${got.length} of ${i + 1}`);
      }
    }
    assert(await until(() => got.length >= 500), `received ${got.length} of 500`);
    assertEquals(got, sent);
    assertEquals(a.stats().framesOut, 500);
    assertEquals(b.stats().framesIn, 500);
  });

  test("the MTU edge: mtu passes, mtu+1 is dropped and counted", async ({ a, b }) => {
    const got: number[] = [];
    b.setSink((f) => got.push(f.length));
    assert(a.send(frame({ dst: BROADCAST, src: mac(1), length: opts.mtu })));
    assertEquals(a.send(frame({ dst: BROADCAST, src: mac(1), length: opts.mtu + 1 })), false);
    assertEquals(a.send(new Uint8Array(13)), false);
    assert(await until(() => got.length === 1));
    assertEquals(got, [opts.mtu]);
    assertEquals(a.stats().drops, { oversize: 1, runt: 1 });
  });

  test("a borrowed frame may be reused by the sender after send()", async ({ a, b }) => {
    const got: Uint8Array[] = [];
    b.setSink((f) => got.push(f.slice()));
    const buf = frame({ dst: mac(2), src: mac(1), seq: 1, length: 200 });
    const expected = buf.slice();
    a.send(buf);
    buf.fill(0xee); // the endpoint must have copied or delivered already
    assert(await until(() => got.length === 1));
    assertEquals(got[0], expected);
  });

  test("back-pressure is bounded: a receiver that never drains costs drops, not memory", ({ a }) => {
    // Nobody reads b's side fast enough when we send synchronously without yielding.
    const f = frame({ dst: mac(2), src: mac(1), length: 1500 });
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) if (a.send(f)) accepted++;
    const dropped = a.stats().framesOut + (a.stats().drops.queueFull ?? 0);
    assertEquals(dropped, 20_000 - (a.stats().drops.oversize ?? 0));
    // Either the kind delivers synchronously (accepts all) or it queues a bounded amount.
    if (accepted < 20_000) assertGreater(a.stats().drops.queueFull ?? 0, 0);
    return Promise.resolve();
  });

  test("close: idempotent, resolves closed, later sends are refused", async ({ a, b }) => {
    a.close();
    a.close();
    await a.closed;
    assertEquals(a.send(frame({ dst: BROADCAST, src: mac(1) })), false);
    if (opts.closePropagates) {
      const closed = await Promise.race([
        b.closed.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
      ]);
      assert(closed, "the other side closed too");
    }
  });
}
