import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { createPair } from "../cable/pair.ts";
import { ConfigError, ConflictError } from "../core/errors.ts";
import { parse_cidr } from "../stack/addr.ts";
import { Stack } from "../stack/stack.ts";
import { apiFixture } from "../tests/_harness/api.ts";

Deno.test("api: a router is listed with interfaces, routes and metrics; names are checked", async () => {
  const fx = await apiFixture();
  await fx.node.createSwitch({ name: "sw1" });
  const spec = {
    name: "r0",
    interfaces: [
      { name: "a", switch: "sw0", cidr: "10.1.0.1/24" },
      { name: "b", switch: "sw1", cidr: "10.2.0.1/24" },
    ],
    routes: [{ dest: "10.9.0.0/16", via: "10.2.0.254" }],
  };
  try {
    await fx.node.createRouter(spec);
    await assertRejects(() => fx.node.createRouter(spec), ConflictError);
    await assertRejects(() => fx.node.createRouter({ ...spec, name: "bad name" }), ConfigError);
    assertEquals((await fx.call("GET", "/api/v1/node")).body.roles, ["switch", "router"]);
    const list = await fx.call("GET", "/api/v1/routers");
    assertEquals(list.status, 200, list.text);
    assertEquals(list.body.length, 1);
    const r = (await fx.call("GET", "/api/v1/routers/r0")).body;
    assertEquals(
      r.interfaces.map((i: { name: string; switch: string; port: number }) => [
        i.name,
        i.switch,
        i.port,
      ]),
      [["a", "sw0", 4], ["b", "sw1", 1]],
    );
    assert(r.interfaces[1].addresses.includes("10.2.0.1/24"), JSON.stringify(r.interfaces));
    assertEquals(
      r.routes.find((x: { dest: string }) => x.dest === "10.9.0.0/16"),
      { dest: "10.9.0.0/16", via: "10.2.0.254", interface: "b", kind: "static" },
    );
    assertEquals(r.forwarded4, 0);
    await fx.refused(404, "GET", "/api/v1/routers/nope", {}, /No router named "nope"/);
    await fx.refused(400, "GET", "/api/v1/routers/bad%20name");
    const metrics = (await fx.call("GET", "/metrics")).text;
    assert(
      metrics.includes('weft_router_forwarded_total{router="r0",family="ipv4"} 0'),
      metrics,
    );
    const doc = (await fx.call("GET", "/openapi.json")).body;
    assert(doc.paths["/api/v1/routers/{name}"]?.get, "the router route is documented");
  } finally {
    await fx.node.close();
  }
  // Closing the node stopped the router.
  assertEquals(fx.node.listRouters(), []);
});

/** The fixture's state plus the routers (names and interfaces), for "a refusal changed nothing". */
function withRouters(fx: Awaited<ReturnType<typeof apiFixture>>): string {
  return fx.snapshot() + JSON.stringify(fx.node.listRouters().map((r) => r.spec));
}

Deno.test("api: a router created between two switches forwards TCP; bad input changes nothing", async () => {
  const fx = await apiFixture();
  try {
    for (const name of ["lan1", "lan2"]) {
      assertEquals((await fx.call("POST", "/api/v1/switches", { json: { name } })).status, 201);
    }
    const stack = async (json: unknown) => {
      const r = await fx.call("POST", "/api/v1/stacks", { json });
      assertEquals(r.status, 201, r.text);
    };
    await stack({
      name: "server",
      switch: "lan1",
      ipv4: "10.1.0.2/24",
      gateways: ["10.1.0.1"],
      service: { kind: "echo", port: 7 },
    });
    await stack({ name: "client", switch: "lan2", ipv4: "10.2.0.2/24", gateways: ["10.2.0.1"] });
    const good = {
      name: "r1",
      interfaces: [
        { name: "a", switch: "lan1", cidr: "10.1.0.1/24" },
        { name: "b", switch: "lan2", cidr: "10.2.0.1/24", cidr6: "fd02::1/64", ra: true },
      ],
      routes: [{ dest: "10.9.0.0/16", via: "10.2.0.254" }],
    };
    // Refusals first: each leaves the node as it was.
    const refused = async (status: number, json: unknown, re?: RegExp) => {
      const before = withRouters(fx);
      const r = await fx.call("POST", "/api/v1/routers", { json });
      assertEquals(r.status, status, `${JSON.stringify(json)}: ${r.text}`);
      assert(typeof r.body?.error === "string", r.text);
      if (re) assertMatch(r.body.error, re);
      assertEquals(withRouters(fx), before, "state unchanged");
    };
    await refused(400, { ...good, interfaces: "lan1" });
    await refused(400, { ...good, interfaces: [] });
    await refused(400, { ...good, extra: 1 });
    await refused(404, {
      ...good,
      interfaces: [good.interfaces[0], { ...good.interfaces[1], switch: "nope" }],
    }, /nope/);
    await refused(400, { ...good, routes: [{ dest: "10.9.0.0/16", via: "10.7.0.1" }] }, /on-link/);
    await refused(400, {
      ...good,
      interfaces: [{ name: "a", switch: "lan1", url: "vde:///x", cidr: "10.1.0.1/24" }],
    }, /exactly one of switch or url/);
    await refused(400, {
      ...good,
      interfaces: [{ name: "a", switch: "lan1", cidr6: "fd01::1/48", ra: true }],
    }, /\/64/);
    await refused(400, {
      ...good,
      interfaces: [good.interfaces[0], { ...good.interfaces[1], name: "a" }],
    }, /twice/);
    await refused(400, {
      ...good,
      interfaces: [{ name: "a", url: "bogus://x", cidr: "10.1.0.1/24" }],
    });
    // The failed URL interface above opened nothing: every switch port is as before.
    assertEquals(fx.node.get("lan1").switch.ports().length, 1);

    const made = await fx.call("POST", "/api/v1/routers", { json: good });
    assertEquals(made.status, 201, made.text);
    assertEquals(
      made.body.interfaces.map((i: { switch: string; port: number; url: null }) => [
        i.switch,
        i.port,
        i.url,
      ]),
      [["lan1", 2, null], ["lan2", 2, null]],
    );
    await refused(409, good, /already exists/);
    assertEquals((await fx.call("GET", "/api/v1/node")).body.roles, [
      "switch",
      "stack",
      "router",
    ]);

    // client (10.2.0.2) → router → server (10.1.0.2): a TCP echo across the two LANs.
    const conn = await fx.node.getStack("client").stack.connect({ hostname: "10.1.0.2", port: 7 });
    await conn.write(new TextEncoder().encode("across"));
    const buf = new Uint8Array(64);
    let got = "";
    while (got.length < 6) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    assertEquals(got, "across");
    const shown = (await fx.call("GET", "/api/v1/routers/r1")).body;
    assert(shown.forwarded4 >= 2, JSON.stringify(shown));

    // A switch carrying the router is not deleted from under it.
    const busy = await fx.call("DELETE", "/api/v1/switches/lan2");
    assertEquals(busy.status, 409, busy.text);
    assertMatch(busy.body.error, /router r1/);
    const del = await fx.call("DELETE", "/api/v1/routers/r1");
    assertEquals([del.status, del.text], [204, ""]);
    assertEquals((await fx.call("GET", "/api/v1/routers/r1")).status, 404);
    assertEquals((await fx.call("DELETE", "/api/v1/routers/r1")).status, 404);
    // Its interfaces left the switches; the name is free again.
    assertEquals(fx.node.get("lan1").switch.ports().length, 1);
    assertEquals((await fx.call("POST", "/api/v1/routers", { json: good })).status, 201);
  } finally {
    await fx.node.close();
  }
});

Deno.test("node: an adopted stack is listed and stopped like a created one; names are checked", async () => {
  const fx = await apiFixture();
  const [ours, theirs] = createPair("adopted");
  const stack = new Stack({ endpoint: ours, ipv4: parse_cidr("10.0.0.9/24")! });
  let stopped = 0;
  try {
    assertThrows(
      () => fx.node.adoptStack({ name: "bad name", url: "pair" }, stack),
      Error,
      "Invalid stack name",
    );
    fx.node.adoptStack(
      {
        name: "web",
        url: "pair",
        ipv4: "10.0.0.9/24",
        service: { kind: "echo", port: 7 },
      },
      stack,
      {
        service: {
          accepted: 3,
          stop: () => Promise.resolve(void stopped++),
        },
      },
    );
    const s = await fx.call("GET", "/api/v1/stacks/web");
    assertEquals(s.status, 200, s.text);
    assertEquals(s.body.service, { kind: "echo", port: 7, accepted: 3 });
    assertEquals(s.body.addresses, ["10.0.0.9/24"]);
    assertEquals((await fx.call("DELETE", "/api/v1/stacks/web")).status, 204);
    assertEquals(stopped, 1);
    await assertRejects(() => fx.node.deleteStack("web"));
  } finally {
    await fx.node.close();
    await stack.close();
    theirs.close();
  }
});
