import { assert, assertEquals } from "@std/assert";
import { apiFixture } from "../tests/_harness/api.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";

const PORT_FIELDS = [
  "bytesIn",
  "bytesOut",
  "description",
  "drops",
  "enabled",
  "endpoint",
  "endpointDrops",
  "framesIn",
  "framesOut",
  "link",
  "mtu",
  "port",
  "vlan",
];

Deno.test("api: ports list with counters, and one port", async () => {
  const fx = await apiFixture();
  const r = await fx.call("GET", "/api/v1/switches/sw0/ports");
  assertEquals(r.status, 200);
  assertEquals(r.body.map((p: { port: number }) => p.port), [1, 2, 3]);
  assertEquals(Object.keys(r.body[0]).sort(), PORT_FIELDS);
  const p1 = r.body[0];
  assertEquals([p1.framesIn, p1.bytesIn, p1.framesOut, p1.vlan, p1.link], [
    1,
    64,
    1,
    "access:1",
    "up",
  ]);
  assertEquals(p1.endpoint, "pair:h1#a");
  const one = await fx.call("GET", "/api/v1/switches/sw0/ports/2");
  assertEquals([one.status, one.body], [200, r.body[1]]);
  await fx.refused(404, "GET", "/api/v1/switches/sw0/ports/7", {}, /no port 7/);
  await fx.refused(404, "GET", "/api/v1/switches/nope/ports");
  for (const bad of ["0", "x", "1.5", "-1", "123456"]) {
    await fx.refused(400, "GET", `/api/v1/switches/sw0/ports/${bad}`, {}, /port number/);
  }
  await fx.node.close();
});

Deno.test("api: PATCH a port's VLAN mode and enabled state, live", async () => {
  const fx = await apiFixture();
  const P = "/api/v1/switches/sw0/ports";
  const r = await fx.call("PATCH", `${P}/1`, { json: { vlan: "access:10" } });
  assertEquals([r.status, r.body.vlan], [200, "access:10"], r.text);
  const t = await fx.call("PATCH", `${P}/3`, { json: { vlan: "trunk:10,20-22,native:1" } });
  assertEquals(t.body.vlan, "trunk:10,20,21,22,native:1");
  // The switch forwards by the new modes: h1 (VLAN 10) reaches only the trunk, tagged.
  const before = fx.hosts.map((h) => h.rx.length);
  fx.hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1) }));
  assertEquals(fx.hosts.map((h) => h.rx.length), [before[0], before[1], before[2] + 1]);
  assertEquals(fx.hosts[2].rx.at(-1)!.length, 68, "tagged on the trunk");

  const d = await fx.call("PATCH", `${P}/2`, { json: { enabled: false } });
  assertEquals([d.status, d.body.enabled], [200, false]);
  assertEquals(fx.node.get("sw0").switch.fdb.entries(1000).some((e) => e.port === 2), false);
  fx.hosts[1].end.send(frame({ dst: mac(1), src: mac(2) }));
  const p2 = (await fx.call("GET", `${P}/2`)).body;
  assertEquals(p2.drops, { disabled: 1 });
  const e = await fx.call("PATCH", `${P}/2`, { json: { enabled: true, vlan: "access:1" } });
  assertEquals([e.body.enabled, e.body.vlan], [true, "access:1"]);
  await fx.node.close();
});

Deno.test("api: PATCH port refuses bad input and unknown ports, all or nothing", async () => {
  const fx = await apiFixture();
  const P = "/api/v1/switches/sw0/ports/1";
  const cases: [unknown, RegExp][] = [
    [{ vlan: 10 }, /vlan/],
    [{ vlan: "access:5000" }, /VLAN ID "5000"/],
    [{ vlan: "access:0" }, /VLAN ID "0"/],
    [{ vlan: "hybrid:3" }, /expected access:ID or trunk/],
    [{ vlan: "trunk:" }, /needs its VLAN list/],
    [{ vlan: "trunk:30-20" }, /below/],
    [{ enabled: "no" }, /enabled/],
    [{ enabled: 0 }, /enabled/],
    [{ mode: "access:1" }, /Unrecognized key.*mode/],
    // A valid change next to an invalid one is not applied.
    [{ enabled: false, vlan: "bogus" }, /Invalid VLAN mode/],
  ];
  for (const [json, re] of cases) await fx.refused(400, "PATCH", P, { json }, re);
  await fx.refused(404, "PATCH", "/api/v1/switches/sw0/ports/5", { json: { enabled: false } });
  await fx.refused(404, "PATCH", "/api/v1/switches/zz/ports/1", { json: { enabled: false } });
  await fx.refused(400, "PATCH", "/api/v1/switches/sw0/ports/abc", { json: { enabled: false } });
  await fx.node.close();
});

Deno.test("api: DELETE a port unplugs it and closes its endpoint", async () => {
  const fx = await apiFixture();
  const r = await fx.call("DELETE", "/api/v1/switches/sw0/ports/2");
  assertEquals([r.status, r.text], [204, ""]);
  await fx.hosts[1].end.closed;
  const ports = (await fx.call("GET", "/api/v1/switches/sw0/ports")).body;
  assertEquals(ports.map((p: { port: number }) => p.port), [1, 3]);
  const fdb = (await fx.call("GET", "/api/v1/switches/sw0/fdb")).body;
  assertEquals(fdb.map((e: { port: number }) => e.port), [1], "its MACs are gone");
  await fx.refused(404, "DELETE", "/api/v1/switches/sw0/ports/2");
  await fx.refused(404, "DELETE", "/api/v1/switches/none/ports/1");
  await fx.refused(400, "DELETE", "/api/v1/switches/sw0/ports/0");
  await fx.node.close();
});

Deno.test("api: the MAC table lists formatted MACs and flushes, all or per port", async () => {
  const fx = await apiFixture();
  const F = "/api/v1/switches/sw0/fdb";
  fx.clock.advance(5_000);
  const r = await fx.call("GET", F);
  assertEquals(r.status, 200);
  assertEquals(r.body, [
    { mac: "02:00:00:00:00:01", vlan: 1, port: 1, ageSec: 5 },
    { mac: "02:00:00:00:00:02", vlan: 1, port: 2, ageSec: 5 },
  ]);
  assertEquals((await fx.call("GET", `${F}?port=2`)).body, [r.body[1]]);
  await fx.refused(400, "GET", `${F}?port=x`, {}, /query/);
  await fx.refused(400, "DELETE", `${F}?port=0`);
  await fx.refused(404, "GET", "/api/v1/switches/nope/fdb");
  await fx.refused(404, "DELETE", "/api/v1/switches/nope/fdb");

  const one = await fx.call("DELETE", `${F}?port=1`);
  assertEquals([one.status, one.body], [200, { removed: 1 }]);
  assertEquals((await fx.call("GET", F)).body, [r.body[1]]);
  const all = await fx.call("DELETE", F);
  assertEquals(all.body, { removed: 1 });
  assertEquals((await fx.call("GET", F)).body, []);

  // Aged entries are not listed.
  fx.hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1) }));
  fx.clock.advance(301_000);
  assertEquals((await fx.call("GET", F)).body, []);
  assert(fx.node.get("sw0").switch.fdb.size >= 0);
  await fx.node.close();
});
