import { assertEquals } from "@std/assert";
import { Rack } from "./rack.ts";
import { SEG_LOST, SEG_SACKED, SegLog } from "./seg_log.ts";

const MSS = 1000;

/** Ten segments sent 1 ms apart from t = 0. */
function tenSent(): SegLog {
  const log = new SegLog();
  for (let k = 0; k < 10; k++) log.onSend(k * MSS, (k + 1) * MSS, k);
  return log;
}

function sack(rack: Rack, log: SegLog, k: number, now: number): void {
  const i = log.find(k * MSS);
  rack.delivered(log, i, now, -1, 0);
  log.setFlags(i, SEG_SACKED);
}

Deno.test("RACK: a segment is lost only when RTT + reo_wnd passed since it was sent (RFC 8985 §6.2)", () => {
  const log = tenSent();
  const rack = new Rack();
  rack.noteRtt(20);
  rack.beginAck();
  sack(rack, log, 4, 24); // segment 4 (sent at 4) delivered at 24: RACK.rtt = 20
  assertEquals(rack.rtt, 20);
  const reo = rack.reoWnd(false, log.sackedBytes, MSS, 20);
  assertEquals(reo, 5); // min_RTT / 4
  // At 24 segments 0..3 (sent 0..3) are due at 25..28: none lost yet, timer for the last one.
  assertEquals(rack.detectLoss(log, 24, reo), 4);
  assertEquals(rack.lostNow, 0);
  // At 26.5: 0 and 1 are lost, 2 and 3 not yet; segments sent after 4 are never judged.
  assertEquals(rack.detectLoss(log, 26.5, reo), 1.5);
  assertEquals(rack.lostNow, 2);
  assertEquals(log.flags[log.find(0)], SEG_LOST);
  assertEquals(log.flags[log.find(1000)], SEG_LOST);
  assertEquals(log.flags[log.find(2000)], 0);
  assertEquals(log.flags[log.find(5000)], 0);
  assertEquals(log.lostBytes, 2 * MSS);
});

Deno.test("RACK: late originals mark reordering; reo_wnd is 0 in recovery until then", () => {
  const log = tenSent();
  const rack = new Rack();
  rack.noteRtt(20);
  assertEquals(rack.reoWnd(true, 0, MSS, 20), 0);
  assertEquals(rack.reoWnd(false, 3 * MSS, MSS, 20), 0);
  rack.beginAck();
  sack(rack, log, 5, 25);
  assertEquals(rack.reorderingSeen, false);
  rack.beginAck();
  sack(rack, log, 3, 26); // an original below the FACK: reordering
  assertEquals(rack.reorderingSeen, true);
  assertEquals(rack.reoWnd(true, 3 * MSS, MSS, 20), 5);
  // D-SACKs widen it by one step per round trip, capped by SRTT.
  rack.onDsack(0, 10_000);
  rack.onDsack(0, 10_000); // same round: no change
  assertEquals(rack.reoWnd(false, 0, MSS, 20), 10);
  rack.onDsack(10_000, 20_000);
  rack.onDsack(20_000, 30_000);
  rack.onDsack(30_000, 40_000);
  assertEquals(rack.reoWnd(false, 0, MSS, 20), 20);
  for (let k = 0; k < 16; k++) rack.recoveryDone();
  assertEquals(rack.reoWnd(false, 0, MSS, 20), 5);
});

Deno.test("RACK: a lost retransmission is found again; ambiguous ACKs give no RTT", () => {
  const log = tenSent();
  const rack = new Rack();
  rack.noteRtt(20);
  log.setFlags(log.head, SEG_LOST);
  log.onSend(0, MSS, 30); // retransmit segment 0 at 30
  // Segment 0 cumulatively ACKed at 32 with TSecr from the original: no RTT sample from it.
  rack.beginAck();
  rack.delivered(log, log.head, 32, 0, 0);
  assertEquals(rack.valid, false);
  // Now suppose the retransmission is lost: a segment sent after it (new data at 31) is SACKed.
  const log2 = tenSent();
  log2.setFlags(log2.head, SEG_LOST);
  log2.onSend(0, MSS, 30);
  log2.onSend(10 * MSS, 11 * MSS, 31);
  const r2 = new Rack();
  r2.noteRtt(20);
  r2.beginAck();
  const i = log2.find(10 * MSS);
  r2.delivered(log2, i, 51, -1, 0);
  log2.setFlags(i, SEG_SACKED);
  r2.detectLoss(log2, 60, 0);
  // Segments 1..9 (sent before 31) and the retransmission of 0 (at 30) are all lost now.
  assertEquals(r2.lostNow, 10);
  assertEquals(log2.nextLost(), log2.head);
  const snap = structuredClone(r2.snapshot(60));
  const r3 = new Rack();
  r3.restore(snap, 1060);
  assertEquals(r3.xmitTs, 1031);
  assertEquals(r3.rtt, 20);
  assertEquals(r3.minRtt, 20);
});
