import { assertEquals } from "@std/assert";
import { SEG_EVER_RETRANS, SEG_LOST, SEG_RETRANS, SEG_SACKED, SegLog } from "./seg_log.ts";

const BASE = 0xfffff000; // close to the wrap, so sequence arithmetic is exercised

function sent(log: SegLog, n: number, mss: number, t0: number): void {
  for (let k = 0; k < n; k++) {
    log.onSend((BASE + k * mss) >>> 0, (BASE + (k + 1) * mss) >>> 0, t0 + k);
  }
}

Deno.test("SegLog: appends new data, marks retransmissions, trims on ACK (across the wrap)", () => {
  const log = new SegLog(4); // small: forces growth
  sent(log, 10, 1000, 100);
  assertEquals(log.count, 10);
  assertEquals(log.find((BASE + 4500) >>> 0), log.head + 4);
  assertEquals(log.pipe(10_000), 10_000);
  // Retransmit the third segment: new time, RETRANS; a pipe of flight + its copy.
  assertEquals(log.onSend((BASE + 2000) >>> 0, (BASE + 3000) >>> 0, 200), true);
  const i = log.find((BASE + 2000) >>> 0);
  assertEquals(log.xmit[i], 200);
  assertEquals(log.flags[i], SEG_RETRANS | SEG_EVER_RETRANS);
  assertEquals(log.pipe(10_000), 11_000);
  // A cumulative ACK in the middle of an entry trims it.
  log.ack((BASE + 2500) >>> 0);
  assertEquals(log.count, 8);
  assertEquals(log.start[log.head], (BASE + 2500) >>> 0);
  assertEquals(log.retransBytes, 500);
  log.ack((BASE + 10_000) >>> 0);
  assertEquals(log.isEmpty, true);
  assertEquals(log.retransBytes + log.sackedBytes + log.lostBytes, 0);
});

Deno.test("SegLog: split keeps the counters; lost/sacked bookkeeping gives RFC 6675 pipe", () => {
  const log = new SegLog();
  sent(log, 6, 1000, 0);
  const j = log.split((BASE + 1500) >>> 0);
  assertEquals(log.count, 7);
  assertEquals(log.len(j - 1), 500);
  assertEquals(log.len(j), 500);
  log.setFlags(log.find((BASE + 3000) >>> 0), SEG_SACKED);
  log.setFlags(log.head, SEG_LOST);
  assertEquals(log.sackedBytes, 1000);
  assertEquals(log.lostBytes, 1000);
  assertEquals(log.pipe(6000), 4000);
  assertEquals(log.nextLost(), log.head);
  // The retransmission keeps LOST and adds RETRANS: it counts once in the pipe.
  log.onSend(BASE, (BASE + 1000) >>> 0, 50);
  assertEquals(log.flags[log.head], SEG_LOST | SEG_RETRANS | SEG_EVER_RETRANS);
  assertEquals(log.pipe(6000), 5000);
  assertEquals(log.nextLost(), -1);
  log.markAllLost();
  assertEquals(log.sackedBytes, 0);
  assertEquals(log.lostBytes, 6000);
  assertEquals(log.pipe(6000), 0);
  log.unmarkLost();
  assertEquals(log.lostBytes, 0);
  assertEquals(log.pipe(6000), 6000);
});

Deno.test("SegLog: a retransmission past the tail appends the rest; snapshot/restore", () => {
  const log = new SegLog();
  sent(log, 3, 1000, 10);
  log.onSend((BASE + 2500) >>> 0, (BASE + 4000) >>> 0, 30);
  assertEquals(log.count, 5);
  assertEquals(log.end[log.tail - 1], (BASE + 4000) >>> 0);
  assertEquals(log.flags[log.tail - 1], 0);
  assertEquals(log.flags[log.tail - 2], SEG_RETRANS | SEG_EVER_RETRANS);
  const snap = structuredClone(log.snapshot(100));
  const r = new SegLog();
  r.restore(snap, 1000);
  assertEquals(r.count, 5);
  assertEquals(r.xmit[r.tail - 1], 930);
  assertEquals(r.retransBytes, log.retransBytes);
  assertEquals(r.pipe(4000), log.pipe(4000));
});
