import { assert, assertEquals } from "@std/assert";
import { RttEstimator } from "./rtt.ts";

Deno.test("RttEstimator: RFC 6298 (2.1)-(2.3) arithmetic", () => {
  const r = new RttEstimator();
  assertEquals(r.rto, 1000);
  assertEquals(r.hasSample, false);
  assertEquals(r.srtt, 0);
  r.sample(100);
  assert(r.hasSample);
  assertEquals([r.srtt, r.rttvar, r.rto], [100, 50, 300]);
  r.sample(200);
  // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5 (old SRTT), SRTT = 7/8*100 + 1/8*200 = 112.5
  assertEquals([r.srtt, r.rttvar, r.rto], [112.5, 62.5, 362.5]);
  r.sample(-5); // ignored
  r.sample(NaN);
  assertEquals(r.srtt, 112.5);
});

Deno.test("RttEstimator: clamps to [minRto, maxRto] and uses G when RTTVAR vanishes", () => {
  const r = new RttEstimator();
  r.sample(10);
  assertEquals(r.rto, 200); // 10 + 4*5 = 30, below Linux's 200 ms floor
  const g = new RttEstimator({ minRto: 0, clockGranularity: 10 });
  for (let i = 0; i < 200; i++) g.sample(100);
  assert(Math.abs(g.rto - 110) < 0.01, `rto ${g.rto}`);
  const big = new RttEstimator({ maxRto: 5000 });
  big.sample(4000);
  assertEquals(big.rto, 5000);
  assertEquals(new RttEstimator({ initialRto: 3000 }).rto, 3000);
});

Deno.test("RttEstimator: backoff doubles up to maxRto; a new sample undoes it", () => {
  const r = new RttEstimator({ maxRto: 60000 });
  r.sample(100);
  r.backoff();
  assertEquals(r.rto, 600);
  for (let i = 0; i < 20; i++) r.backoff();
  assertEquals(r.rto, 60000);
  r.sample(100);
  assert(r.rto < 1000, `rto ${r.rto}`);
});

Deno.test("RttEstimator: snapshot/restore", () => {
  const r = new RttEstimator();
  r.sample(80);
  r.sample(120);
  r.backoff();
  const s = r.snapshot();
  const q = new RttEstimator();
  q.restore(JSON.parse(JSON.stringify(s)));
  assertEquals(q.snapshot(), s);
  r.sample(90);
  q.sample(90);
  assertEquals(q.snapshot(), r.snapshot());
});
