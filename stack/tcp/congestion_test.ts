import { assert, assertEquals, assertGreater, assertThrows } from "@std/assert";
import { type CongestionControl, createCongestion, initialWindow } from "./congestion.ts";
import { CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, cubicK, wCubic } from "./cubic.ts";
import { INITIAL_SSTHRESH } from "./cwnd.ts";

const SMSS = 1000;

/**
 * One round trip: the whole window is in flight and acknowledged one SMSS per ACK, evenly over
 * `rtt` ms starting at `now`. Returns the time at its end.
 */
function round(cc: CongestionControl, now: number, rtt: number): number {
  const flight = cc.cwnd;
  const acks = Math.max(1, Math.floor(flight / cc.smss));
  for (let i = 0; i < acks; i++) cc.onAck(cc.smss, now + (rtt * (i + 1)) / acks, rtt, flight);
  return now + rtt;
}

Deno.test("initialWindow: RFC 6928", () => {
  assertEquals(initialWindow(1460), 14600);
  assertEquals(initialWindow(536), 5360);
  assertEquals(initialWindow(9000), 18000);
  assertEquals(initialWindow(1000), 10000);
});

Deno.test("createCongestion: names and initial values", () => {
  for (const name of ["newreno", "cubic"] as const) {
    const cc = createCongestion(name, 1460, 0);
    assertEquals(cc.name, name);
    assertEquals(cc.cwnd, 14600);
    assertEquals(cc.ssthresh, INITIAL_SSTHRESH);
    assertEquals(cc.smss, 1460);
  }
  assertThrows(() => createCongestion("bbr" as "cubic", 1460, 0), RangeError, "bbr");
});

for (const name of ["newreno", "cubic"] as const) {
  Deno.test(`${name}: slow start doubles cwnd per RTT, with ABC's L = 2*SMSS`, () => {
    const cc = createCongestion(name, SMSS, 0);
    let now = round(cc, 0, 100);
    assertEquals(cc.cwnd, 20000);
    now = round(cc, now, 100);
    assertEquals(cc.cwnd, 40000);
    // One stretch ACK of 5 segments grows cwnd by at most 2*SMSS (RFC 3465 §2.2).
    cc.onAck(5 * SMSS, now, 100, cc.cwnd);
    assertEquals(cc.cwnd, 42000);
  });

  Deno.test(`${name}: no growth while application-limited (flight < cwnd/2)`, () => {
    const cc = createCongestion(name, SMSS, 0);
    cc.onAck(SMSS, 10, 100, 4000);
    assertEquals(cc.cwnd, 10000);
    cc.onAck(SMSS, 20, 100, 5000);
    assertEquals(cc.cwnd, 11000);
  });

  Deno.test(`${name}: slow start stops at ssthresh`, () => {
    const cc = createCongestion(name, SMSS, 0);
    cc.ssthresh = 15000;
    round(cc, 0, 100);
    assert(cc.cwnd >= 15000 && cc.cwnd < 16000, `cwnd ${cc.cwnd}`);
  });

  Deno.test(`${name}: timeout sets ssthresh, cwnd = 1 SMSS, held on a repeated timeout`, () => {
    const beta = name === "newreno" ? 0.5 : CUBIC_BETA;
    const cc = createCongestion(name, SMSS, 0);
    cc.onTimeout(0, 40000);
    assertEquals(cc.cwnd, SMSS);
    assertEquals(cc.ssthresh, 40000 * beta);
    cc.onTimeout(1000, 1000); // the same data again: ssthresh stays
    assertEquals(cc.ssthresh, 40000 * beta);
    cc.onAck(SMSS, 1100, 100, SMSS);
    assertEquals(cc.cwnd, 2 * SMSS);
    cc.onTimeout(3000, 1000); // a new timeout after progress: 2*SMSS floor
    assertEquals(cc.ssthresh, 2 * SMSS);
    assertEquals(cc.cwnd, SMSS);
  });

  Deno.test(`${name}: loss sets ssthresh and cwnd, recovery freezes growth`, () => {
    const beta = name === "newreno" ? 0.5 : CUBIC_BETA;
    const cc = createCongestion(name, SMSS, 0);
    cc.onLoss(0, 30000);
    assertEquals(cc.ssthresh, 30000 * beta);
    assertEquals(cc.cwnd, 30000 * beta);
    cc.onAck(SMSS, 10, 100, cc.cwnd);
    assertEquals(cc.cwnd, 30000 * beta);
    cc.onRecoveryExit(100);
    assertEquals(cc.cwnd, cc.ssthresh);
    const small = createCongestion(name, SMSS, 0);
    small.onLoss(0, 1500);
    assertEquals(small.ssthresh, 2 * SMSS);
    // A recovery exit after an RTO does not undo the RTO's cwnd.
    small.onTimeout(50, 1500);
    small.onRecoveryExit(60);
    assertEquals(small.cwnd, SMSS);
  });

  Deno.test(`${name}: idle restart caps cwnd at IW`, () => {
    const cc = createCongestion(name, SMSS, 0);
    cc.cwnd = 50000;
    cc.onIdleRestart(0);
    assertEquals(cc.cwnd, 10000);
    cc.cwnd = 4000;
    cc.onIdleRestart(0);
    assertEquals(cc.cwnd, 4000);
  });

  Deno.test(`${name}: snapshot/restore continues identically`, () => {
    const a = createCongestion(name, SMSS, 0);
    let now = round(a, 0, 50);
    a.onLoss(now, a.cwnd);
    a.onRecoveryExit(now);
    for (let i = 0; i < 5; i++) now = round(a, now, 50);
    const b = createCongestion(name, 536, 0);
    b.restore(JSON.parse(JSON.stringify(a.snapshot())));
    assertEquals(b.snapshot(), a.snapshot());
    for (let i = 0; i < 20; i++) {
      round(a, now, 50);
      now = round(b, now, 50);
    }
    assertEquals(b.snapshot(), a.snapshot());
  });
}

Deno.test("newreno: congestion avoidance adds one SMSS per RTT", () => {
  const cc = createCongestion("newreno", SMSS, 0);
  cc.cwnd = 20000;
  cc.ssthresh = 20000;
  let now = 0;
  for (let i = 1; i <= 10; i++) {
    now = round(cc, now, 100);
    assertEquals(cc.cwnd, 20000 + i * SMSS);
  }
});

Deno.test("cubic: K formula (RFC 9438 eq. 2) checked numerically", () => {
  const k = cubicK(100 * SMSS, 70 * SMSS, SMSS);
  assert(Math.abs(k - Math.cbrt(30 / CUBIC_C)) < 1e-12);
  assert(Math.abs(k - 4.2172) < 1e-3, `K ${k}`);
  assert(Math.abs(wCubic(0, k, 100 * SMSS, SMSS) - 70 * SMSS) < 1e-6);
  assert(Math.abs(wCubic(k, k, 100 * SMSS, SMSS) - 100 * SMSS) < 1e-9);
  assertEquals(wCubic(k + 1, k, 100 * SMSS, SMSS), 100 * SMSS + CUBIC_C * SMSS);
});

Deno.test("cubic: after a loss the window returns to W_max at t≈K, then exceeds it", () => {
  const cc = createCongestion("cubic", SMSS, 0);
  cc.cwnd = 100 * SMSS;
  cc.onLoss(0, 100 * SMSS);
  assertEquals(cc.ssthresh, 70 * SMSS);
  assertEquals(cc.cwnd, 70 * SMSS);
  cc.onRecoveryExit(0);
  const k = cubicK(100 * SMSS, 70 * SMSS, SMSS);
  const rtt = 100;
  const at: Array<[number, number]> = [];
  let now = 0;
  while (now < (k + 3) * 1000) {
    now = round(cc, now, rtt);
    at.push([now / 1000, cc.cwnd]);
  }
  const near = (t: number) =>
    at.reduce((b, x) => (Math.abs(x[0] - t) < Math.abs(b[0] - t) ? x : b));
  const [, atK] = near(k);
  assert(Math.abs(atK - 100 * SMSS) < 0.03 * 100 * SMSS, `cwnd at K ${atK}`);
  assert(near(k - 1.5)[1] < 0.99 * 100 * SMSS, `concave: below W_max before K`);
  assertGreater(near(k + 3)[1], 1.05 * 100 * SMSS);
  // Concave then convex: growth slows into K and speeds up after it.
  const growth = (t0: number, t1: number) => near(t1)[1] - near(t0)[1];
  assertGreater(growth(k - 2, k - 1), growth(k - 1, k));
  assertGreater(growth(k + 2, k + 3), growth(k + 1, k + 2));
});

Deno.test("cubic: fast convergence lowers W_max when the window was still shrinking", () => {
  const cc = createCongestion("cubic", SMSS, 0);
  cc.cwnd = 100 * SMSS;
  cc.onLoss(0, 100 * SMSS);
  cc.onRecoveryExit(0);
  cc.onLoss(100, 70 * SMSS); // cwnd 70 < W_max 100
  const snap = cc.snapshot();
  assertEquals(snap.wMax, (70 * SMSS * (1 + CUBIC_BETA)) / 2);
  assertEquals(cc.ssthresh, 49 * SMSS);
});

Deno.test("cubic: Reno-friendly region on short RTTs follows W_est (RFC 9438 §4.3)", () => {
  const cc = createCongestion("cubic", SMSS, 0);
  cc.cwnd = 100 * SMSS;
  cc.onLoss(0, 100 * SMSS);
  cc.onRecoveryExit(0);
  let now = 0;
  for (let i = 0; i < 50; i++) now = round(cc, now, 10); // 0.5 s, 50 RTTs
  const k = cubicK(100 * SMSS, 70 * SMSS, SMSS);
  const cubicOnly = wCubic(0.5 + 0.01, k, 100 * SMSS, SMSS);
  // Reno with alpha_cubic: about alpha segments per RTT (a little less as cwnd grows).
  const renoEst = 70 * SMSS + 50 * CUBIC_ALPHA * SMSS;
  assertGreater(cc.cwnd, cubicOnly + 10 * SMSS);
  assert(Math.abs(cc.cwnd - renoEst) < 0.05 * renoEst, `cwnd ${cc.cwnd} vs W_est ~${renoEst}`);
});

Deno.test("cubic: first congestion avoidance after an RTO starts convex from cwnd_epoch", () => {
  const cc = createCongestion("cubic", SMSS, 0);
  cc.onTimeout(0, 40 * SMSS); // ssthresh 28 segments
  let now = 0;
  while (cc.cwnd < cc.ssthresh) now = round(cc, now, 100);
  const t0 = now;
  for (let i = 0; i < 30; i++) now = round(cc, now, 100);
  const snap = cc.snapshot();
  assertEquals(snap.k, 0);
  // W_max is the window at the epoch start (slow start ended at ssthresh), and the window
  // follows the convex curve from there.
  assertEquals(snap.wMax, 28 * SMSS);
  assertEquals(cc.ssthresh, 28 * SMSS);
  assertGreater(cc.cwnd, wCubic((now - t0) / 1000 - 0.2, 0, Number(snap.wMax), SMSS));
});
