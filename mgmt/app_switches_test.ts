import { assert, assertEquals } from "@std/assert";
import { apiFixture } from "../tests/_harness/api.ts";

const SWITCH_FIELDS = [
  "ageingSec",
  "fdbSize",
  "hub",
  "macLimit",
  "maxPorts",
  "mtu",
  "name",
  "portsInUse",
  "sock",
];

Deno.test("api: GET /api/v1/node tells id, version, uptime and roles", async () => {
  const fx = await apiFixture();
  fx.clock.advance(42_500);
  const r = await fx.call("GET", "/api/v1/node");
  assertEquals(r.status, 200);
  assertEquals(r.body, { id: "node-test", version: "9.9.9", uptimeSec: 42, roles: ["switch"] });
  await fx.node.close();
});

Deno.test("api: list, create, show and delete switches", async () => {
  const fx = await apiFixture();
  const list = await fx.call("GET", "/api/v1/switches");
  assertEquals(list.status, 200);
  assertEquals(list.body.length, 1);
  assertEquals(Object.keys(list.body[0]).sort(), SWITCH_FIELDS);
  assertEquals(list.body[0].portsInUse, 3);
  assertEquals(list.body[0].fdbSize, 2);

  const created = await fx.call("POST", "/api/v1/switches", {
    json: { name: "lab-1", maxPorts: 4, hub: true, mtu: 1500, macLimit: 10, ageingSec: 60 },
  });
  assertEquals(created.status, 201, created.text);
  assertEquals(created.body, {
    name: "lab-1",
    maxPorts: 4,
    hub: true,
    mtu: 1500,
    macLimit: 10,
    ageingSec: 60,
    sock: null,
    portsInUse: 0,
    fdbSize: 0,
  });
  assertEquals((await fx.call("GET", "/api/v1/switches/lab-1")).body, created.body);
  assertEquals((await fx.call("GET", "/api/v1/switches")).body.length, 2);

  const del = await fx.call("DELETE", "/api/v1/switches/lab-1");
  assertEquals([del.status, del.text], [204, ""]);
  await fx.refused(404, "GET", "/api/v1/switches/lab-1", {}, /No switch named "lab-1"/);
  await fx.refused(404, "DELETE", "/api/v1/switches/lab-1");
  await fx.node.close();
});

Deno.test("api: deleting a switch closes its ports' endpoints", async () => {
  const fx = await apiFixture();
  assertEquals((await fx.call("DELETE", "/api/v1/switches/sw0")).status, 204);
  await fx.hosts[0].end.closed; // the pair's far end closes with the port's end
  assertEquals((await fx.call("GET", "/api/v1/switches")).body, []);
  assertEquals((await fx.call("GET", "/api/v1/node")).body.roles, []);
});

Deno.test("api: POST /api/v1/switches refuses bad input with 400 and changes nothing", async () => {
  const fx = await apiFixture();
  const P = "/api/v1/switches";
  const cases: [unknown, RegExp][] = [
    [{}, /name/],
    [{ name: 7 }, /name/],
    [{ name: "" }, /name/],
    [{ name: "has space" }, /name/],
    [{ name: "-lead" }, /name/],
    [{ name: "x".repeat(65) }, /name/],
    [{ name: "a", maxPorts: "32" }, /maxPorts/],
    [{ name: "a", maxPorts: 0 }, /maxPorts/],
    [{ name: "a", maxPorts: 65536 }, /maxPorts/],
    [{ name: "a", maxPorts: 1.5 }, /maxPorts/],
    [{ name: "a", hub: "yes" }, /hub/],
    [{ name: "a", mtu: 67 }, /mtu/],
    [{ name: "a", mtu: 65522 }, /mtu/],
    [{ name: "a", macLimit: -1 }, /macLimit/],
    [{ name: "a", ageingSec: null }, /ageingSec/],
    [{ name: "a", sock: "" }, /sock/],
    [{ name: "a", ageing: 30 }, /Unrecognized key.*ageing/],
    [[], /expected object/],
    ["sw1", /expected object/],
    [null, /expected object/],
  ];
  for (const [json, re] of cases) await fx.refused(400, "POST", P, { json }, re);
  const ct = { "content-type": "application/json" };
  await fx.refused(400, "POST", P, { body: "{not json", headers: ct }, /not valid JSON/);
  await fx.refused(400, "POST", P, { body: "", headers: ct });
  await fx.refused(415, "POST", P, {
    body: "name=a",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  await fx.refused(415, "POST", P, {
    body: '{"name":"a"}',
    headers: { "content-type": "text/plain" },
  });
  assertEquals((await fx.call("GET", P)).body.length, 1);
  await fx.node.close();
});

Deno.test("api: a switch name in use is 409 (also with a different case of options)", async () => {
  const fx = await apiFixture();
  await fx.refused(409, "POST", "/api/v1/switches", { json: { name: "sw0" } }, /already exists/);
  await fx.refused(409, "POST", "/api/v1/switches", { json: { name: "sw0", hub: true } });
  await fx.node.close();
});

Deno.test("api: a switch can serve a VDE directory; a directory in use is 409", async () => {
  const fx = await apiFixture();
  const dir = await Deno.makeTempDir({ prefix: "weft-api-" });
  try {
    const r = await fx.call("POST", "/api/v1/switches", { json: { name: "v1", sock: `${dir}/v` } });
    assertEquals(r.status, 201, r.text);
    assertEquals(r.body.sock, `${dir}/v`);
    assert((await Deno.lstat(`${dir}/v/ctl`)).isSocket);
    await fx.refused(
      409,
      "POST",
      "/api/v1/switches",
      { json: { name: "v2", sock: `${dir}/v` } },
      /serv/,
    );
    await fx.refused(404, "GET", "/api/v1/switches/v2");
    // A name that failed to be created is free again.
    const again = await fx.call("POST", "/api/v1/switches", {
      json: { name: "v2", sock: `${dir}/w` },
    });
    assertEquals(again.status, 201, again.text);
    // Not a directory: 400, and no switch.
    await Deno.writeTextFile(`${dir}/file`, "");
    await fx.refused(
      400,
      "POST",
      "/api/v1/switches",
      { json: { name: "v3", sock: `${dir}/file` } },
      /not a directory/,
    );
    assertEquals((await fx.call("DELETE", "/api/v1/switches/v1")).status, 204);
    await fx.node.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("api: PATCH changes hub, mtu and ageing live", async () => {
  const fx = await apiFixture();
  const sw = fx.node.get("sw0").switch;
  const r = await fx.call("PATCH", "/api/v1/switches/sw0", {
    json: { hub: true, mtu: 1500, ageingSec: 30 },
  });
  assertEquals(r.status, 200, r.text);
  assertEquals([r.body.hub, r.body.mtu, r.body.ageingSec], [true, 1500, 30]);
  assertEquals([sw.hub, sw.mtu, sw.fdb.ageingSec], [true, 1500, 30]);
  assertEquals(sw.ports().map((p) => p.mtu), [1500, 1500, 1500], "ports already plugged in too");
  assertEquals(sw.fdb.size, 0, "entries learned before a hub period are forgotten");
  // Same values, an empty patch and the fixed fields at their current values: no-ops.
  for (const json of [{}, { hub: true }, { macLimit: 65536, maxPorts: 8 }]) {
    const same = await fx.call("PATCH", "/api/v1/switches/sw0", { json });
    assertEquals([same.status, same.body], [200, r.body]);
  }
  await fx.node.close();
});

Deno.test("api: PATCH refuses what cannot change live (409) and bad values (400), all or nothing", async () => {
  const fx = await apiFixture();
  const P = "/api/v1/switches/sw0";
  await fx.refused(409, "PATCH", P, { json: { macLimit: 5 } }, /macLimit.*delete and create/);
  await fx.refused(409, "PATCH", P, { json: { maxPorts: 16 } }, /ports/);
  // A valid change next to a refused one is not applied either.
  await fx.refused(409, "PATCH", P, { json: { hub: true, mtu: 1500, macLimit: 5 } });
  const cases: [unknown, RegExp][] = [
    [{ hub: 1 }, /hub/],
    [{ mtu: "1500" }, /mtu/],
    [{ mtu: 20 }, /mtu/],
    [{ ageingSec: 0 }, /ageingSec/],
    [{ name: "other" }, /Unrecognized key.*name/],
    [{ hub: true, bogus: 1 }, /bogus/],
    [[{ hub: true }], /expected object/],
  ];
  for (const [json, re] of cases) await fx.refused(400, "PATCH", P, { json }, re);
  await fx.refused(404, "PATCH", "/api/v1/switches/nope", { json: { hub: true } });
  await fx.refused(400, "PATCH", "/api/v1/switches/bad%20name", { json: { hub: true } }, /path/);
  await fx.node.close();
});
