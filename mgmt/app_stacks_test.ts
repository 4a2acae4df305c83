import { assert, assertEquals, assertMatch } from "@std/assert";
import { apiFixture } from "../tests/_harness/api.ts";
import { stackView } from "./api/views.ts";

/** The fixture's state plus the stacks and cables, for "a refusal changed nothing". */
function fullSnapshot(fx: Awaited<ReturnType<typeof apiFixture>>): string {
  return fx.snapshot() + JSON.stringify({
    stacks: fx.node.listStacks().map((s) => stackView(s).name),
    cables: fx.node.cables().map((c) => [c.switch, c.direction, c.url]),
  });
}

async function refused(
  fx: Awaited<ReturnType<typeof apiFixture>>,
  status: number,
  method: string,
  path: string,
  json?: unknown,
  re?: RegExp,
) {
  const before = fullSnapshot(fx);
  const r = await fx.call(method, path, json === undefined ? {} : { json });
  assertEquals(r.status, status, `${method} ${path} ${JSON.stringify(json)}: ${r.text}`);
  assert(typeof r.body?.error === "string", r.text);
  if (re) assertMatch(r.body.error, re);
  assertEquals(fullSnapshot(fx), before, `${method} ${path}: state unchanged after ${status}`);
}

Deno.test("api: stacks on a switch talk TCP to each other; list, show, delete", async () => {
  const fx = await apiFixture();
  try {
    const a = await fx.call("POST", "/api/v1/stacks", {
      json: {
        name: "echo1",
        switch: "sw0",
        ipv4: "10.9.0.1/24",
        ipv6: ["fd09::1/64"],
        service: { kind: "echo", port: 7 },
      },
    });
    assertEquals(a.status, 201, a.text);
    assertEquals(a.body.port, 4, "the lowest free port of sw0");
    assertEquals(a.body.switch, "sw0");
    assert(a.body.addresses.includes("10.9.0.1/24"), a.text);
    assertMatch(a.body.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const b = await fx.call("POST", "/api/v1/stacks", {
      json: { name: "client", switch: "sw0", ipv4: "10.9.0.2/24" },
    });
    assertEquals(b.status, 201, b.text);
    assertEquals((await fx.call("GET", "/api/v1/node")).body.roles, ["switch", "stack"]);

    // A real TCP exchange through the switch: client → echo1's echo service.
    const conn = await fx.node.getStack("client").stack.connect({
      hostname: "10.9.0.1",
      port: 7,
    });
    await conn.write(new TextEncoder().encode("hello weft"));
    const buf = new Uint8Array(64);
    let got = "";
    while (got.length < 10) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    assertEquals(got, "hello weft");
    const shown = await fx.call("GET", "/api/v1/stacks/echo1");
    assertEquals(shown.body.service, { kind: "echo", port: 7, accepted: 1 });
    assert(shown.body.framesIn > 0 && shown.body.tcpConnections >= 1, shown.text);
    assert(
      shown.body.sockets.some((k: { state: string; remote: string }) =>
        k.state === "ESTABLISHED" && /^10\.\d+\.\d+\.\d+:\d+$/.test(k.remote)
      ),
      JSON.stringify(shown.body.sockets),
    );
    conn.close();

    const metrics = await fx.call("GET", "/metrics");
    assertMatch(metrics.text, /weft_stack_frames_total\{stack="echo1",direction="in"\} [1-9]/);
    assertEquals(
      (await fx.call("GET", "/api/v1/stacks")).body.map((s: { name: string }) => s.name),
      [
        "echo1",
        "client",
      ],
    );

    // A switch carrying stacks is not deleted from under them.
    await refused(
      fx,
      409,
      "DELETE",
      "/api/v1/switches/sw0",
      undefined,
      /stack echo1, stack client/,
    );
    const del = await fx.call("DELETE", "/api/v1/stacks/echo1");
    assertEquals([del.status, del.text], [204, ""]);
    await refused(fx, 404, "GET", "/api/v1/stacks/echo1", undefined, /No stack named "echo1"/);
    await refused(fx, 404, "DELETE", "/api/v1/stacks/echo1");
    // Its port left the switch.
    const ports = await fx.call("GET", "/api/v1/switches/sw0/ports");
    assertEquals(ports.body.map((p: { port: number }) => p.port), [1, 2, 3, 5]);
  } finally {
    await fx.node.close();
  }
});

Deno.test("api: bad stack input is refused with 400/404/409 and changes nothing", async () => {
  const fx = await apiFixture();
  try {
    const ok = { name: "s1", switch: "sw0", ipv4: "10.0.0.2/24" };
    assertEquals((await fx.call("POST", "/api/v1/stacks", { json: ok })).status, 201);
    const P = "/api/v1/stacks";
    await refused(fx, 409, "POST", P, ok, /Stack "s1" already exists/);
    await refused(fx, 400, "POST", P, { ...ok, name: "s2", ipv4: "10.0.0.300/24" }, /ipv4/);
    await refused(fx, 400, "POST", P, { ...ok, name: "s2", ipv4: "fd00::1/64" }, /IPv4/);
    await refused(fx, 400, "POST", P, { ...ok, name: "s2", ipv6: ["fe80::/129"] }, /ipv6/);
    await refused(fx, 400, "POST", P, { ...ok, name: "s2", gateways: ["nope"] }, /gateway/);
    await refused(fx, 400, "POST", P, { name: "s2", ipv4: "10.0.0.3/24" }, /exactly one/);
    await refused(
      fx,
      400,
      "POST",
      P,
      { ...ok, name: "s2", url: "vde:///tmp/x" },
      /exactly one/,
    );
    await refused(fx, 400, "POST", P, { name: "s2", switch: "sw0" }, /address/);
    await refused(fx, 400, "POST", P, { ...ok, name: "bad name" }, /name/);
    await refused(fx, 400, "POST", P, { ...ok, name: "s2", ipv4: 10 }, /ipv4/);
    await refused(fx, 400, "POST", P, { ...ok, name: "s2", colour: "red" }, /colour/);
    await refused(
      fx,
      400,
      "POST",
      P,
      { ...ok, name: "s2", service: { kind: "ftp", port: 21 } },
      /service\.kind/,
    );
    await refused(
      fx,
      400,
      "POST",
      P,
      { ...ok, name: "s2", service: { kind: "dir", port: 80, path: "/nonexistent/x" } },
      /not a directory/,
    );
    await refused(
      fx,
      400,
      "POST",
      P,
      { ...ok, name: "s2", service: { kind: "proxy", port: 80, target: "nohost" } },
      /HOST:PORT/,
    );
    await refused(fx, 404, "POST", P, { ...ok, name: "s2", switch: "nosuch" }, /No switch/);
    await refused(fx, 400, "POST", P, { ...ok, name: "s2", url: undefined, switch: undefined });
    await refused(fx, 400, "POST", P, {
      name: "s2",
      url: "foo://x",
      ipv4: "10.0.0.3/24",
    }, /scheme/);
    await refused(fx, 400, "GET", "/api/v1/stacks/bad%20name");
    const unauth = await fx.call("GET", P, { token: "wrong-token-0123456789" });
    assertEquals(unauth.status, 401);
    assertEquals(fx.node.listStacks().map((s) => s.name), ["s1"]);
  } finally {
    await fx.node.close();
  }
});

Deno.test("api: cables — list a switch's dialled and listen URLs, connect, drop", async () => {
  const fx = await apiFixture();
  const dir = await Deno.makeTempDir({ prefix: "weft-cables-" });
  try {
    await fx.node.createSwitch({ name: "far" }, `${dir}/far`);
    const url = `vde://${dir}/far`;
    const made = await fx.call("POST", "/api/v1/cables", { json: { switch: "sw0", url } });
    assertEquals(made.status, 201, made.text);
    assertEquals(made.body.port, 4);
    assertEquals(made.body.link, "up");
    assertEquals(fx.node.get("far").switch.ports().length, 1, "the far switch got the cable");
    const listen = await fx.call("POST", "/api/v1/cables", {
      json: { switch: "sw0", url: "tcp://127.0.0.1:0", direction: "listen" },
    });
    assertEquals(listen.status, 201, listen.text);
    assertEquals(listen.body.link, "listening");
    const all = await fx.call("GET", "/api/v1/cables");
    assertEquals(all.body.map((c: { direction: string }) => c.direction), ["connect", "listen"]);

    await refused(fx, 409, "POST", "/api/v1/cables", { switch: "sw0", url }, /already/);
    await refused(fx, 404, "POST", "/api/v1/cables", { switch: "nosuch", url }, /No switch/);
    await refused(fx, 400, "POST", "/api/v1/cables", { switch: "sw0", url: "foo://x" });
    await refused(fx, 400, "POST", "/api/v1/cables", { switch: "sw0" }, /url/);
    const q = (u: string) => `/api/v1/cables?switch=sw0&url=${encodeURIComponent(u)}`;
    await refused(fx, 404, "DELETE", q("vde:///nope"), undefined, /no cable/);
    await refused(fx, 400, "DELETE", "/api/v1/cables?switch=sw0");

    const drop = await fx.call("DELETE", q(url));
    assertEquals(drop.status, 204, drop.text);
    assertEquals(fx.node.get("sw0").switch.port(4), undefined, "the cable's port was unplugged");
    const dropL = await fx.call("DELETE", q("tcp://127.0.0.1:0"));
    assertEquals(dropL.status, 204, dropL.text);
    assertEquals((await fx.call("GET", "/api/v1/cables")).body, []);
  } finally {
    await fx.node.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("api: PATCH vlans replaces a switch's VLAN configuration, live ports included", async () => {
  const fx = await apiFixture();
  try {
    const r = await fx.call("PATCH", "/api/v1/switches/sw0", {
      json: { vlans: { "1": "access:10", "7": "trunk:10,20" } },
    });
    assertEquals(r.status, 200, r.text);
    const ports = (await fx.call("GET", "/api/v1/switches/sw0/ports")).body;
    assertEquals(ports.map((p: { vlan: string }) => p.vlan), ["access:10", "access:1", "access:1"]);
    assertEquals(fx.node.get("sw0").switch.portVlans.size, 2);
    await refused(fx, 400, "PATCH", "/api/v1/switches/sw0", { vlans: { "1": "hybrid" } }, /VLAN/);
    await refused(fx, 400, "PATCH", "/api/v1/switches/sw0", { vlans: { "99": "access:2" } });
    const back = await fx.call("PATCH", "/api/v1/switches/sw0", { json: { vlans: {} } });
    assertEquals(back.status, 200);
    const after = (await fx.call("GET", "/api/v1/switches/sw0/ports")).body;
    assertEquals(after[0].vlan, "access:1");
  } finally {
    await fx.node.close();
  }
});
