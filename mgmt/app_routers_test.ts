import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { createPair } from "../cable/pair.ts";
import { ConflictError } from "../core/errors.ts";
import { parse_cidr } from "../stack/addr.ts";
import { Router } from "../router/router.ts";
import { Stack } from "../stack/stack.ts";
import { apiFixture } from "../tests/_harness/api.ts";

Deno.test("api: an adopted router is listed read-only with interfaces, routes and metrics", async () => {
  const fx = await apiFixture();
  // Interface "a" on the fixture's switch, "b" on a bare pair end.
  const [a, aPeer] = createPair("r-a");
  const [b, bPeer] = createPair("r-b");
  fx.node.attach("sw0", aPeer);
  const router = new Router({
    interfaces: [
      { name: "a", endpoint: a, ipv4: parse_cidr("10.1.0.1/24")! },
      { name: "b", endpoint: b, ipv4: parse_cidr("10.2.0.1/24")! },
    ],
    routes: [{ dest: parse_cidr("10.9.0.0/16")!, via: parse_cidr("10.2.0.254/32")!.addr }],
  });
  try {
    fx.node.adoptRouter("r0", router, { a: "vde:///tmp/a", b: "pair" });
    assertThrows(() => fx.node.adoptRouter("r0", router, {}), ConflictError);
    assertEquals((await fx.call("GET", "/api/v1/node")).body.roles, ["switch", "router"]);
    const list = await fx.call("GET", "/api/v1/routers");
    assertEquals(list.status, 200, list.text);
    assertEquals(list.body.length, 1);
    const r = (await fx.call("GET", "/api/v1/routers/r0")).body;
    assertEquals(r.interfaces.map((i: { name: string; url: string }) => [i.name, i.url]), [
      ["a", "vde:///tmp/a"],
      ["b", "pair"],
    ]);
    assert(r.interfaces[1].addresses.includes("10.2.0.1/24"), JSON.stringify(r.interfaces));
    assertEquals(
      r.routes.find((x: { dest: string }) => x.dest === "10.9.0.0/16"),
      { dest: "10.9.0.0/16", via: "10.2.0.254", interface: "b", kind: "static" },
    );
    assertEquals(r.forwarded4, 0);
    await fx.refused(404, "GET", "/api/v1/routers/nope", {}, /No router named "nope"/);
    await fx.refused(400, "GET", "/api/v1/routers/bad%20name");
    // Read-only: no route creates or deletes one.
    await fx.refused(404, "DELETE", "/api/v1/routers/r0");
    const metrics = (await fx.call("GET", "/metrics")).text;
    assert(
      metrics.includes('weft_router_forwarded_total{router="r0",family="ipv4"} 0'),
      metrics,
    );
    const doc = (await fx.call("GET", "/openapi.json")).body;
    assert(doc.paths["/api/v1/routers/{name}"]?.get, "the router route is documented");
  } finally {
    await fx.node.close();
    bPeer.close();
  }
  // Closing the node stopped the router it adopted.
  assertEquals(fx.node.listRouters(), []);
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
