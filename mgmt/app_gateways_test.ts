import { assert, assertEquals, assertMatch } from "@std/assert";
import { apiFixture } from "../tests/_harness/api.ts";

Deno.test("api: a gateway on a switch leases to a DHCP stack; a runtime port forward reaches it", async () => {
  const fx = await apiFixture();
  try {
    const gw = await fx.call("POST", "/api/v1/gateways", {
      json: {
        name: "gw",
        switch: "sw0",
        cidr: "10.0.2.0/24",
        dhcp: { start: "10.0.2.15", end: "10.0.2.15" },
      },
    });
    assertEquals(gw.status, 201, gw.text);
    assertEquals(gw.body.port, 4);
    assert(gw.body.addresses.includes("10.0.2.2/24"), gw.text);
    const st = await fx.call("POST", "/api/v1/stacks", {
      json: { name: "guest", switch: "sw0", ipv4: "dhcp", service: { kind: "echo", port: 7 } },
    });
    assertEquals(st.status, 201, st.text);
    assert(await fx.node.getStack("guest").stack.settled(10_000), "the guest got a lease");
    const leases = await fx.call("GET", "/api/v1/gateways/gw/leases");
    assertEquals(leases.body.map((l: { addr: string }) => l.addr), ["10.0.2.15"]);

    // A forward added at runtime: host 127.0.0.1:(any) → the guest's echo service.
    const fwd = await fx.call("POST", "/api/v1/gateways/gw/forwards", {
      json: {
        proto: "tcp",
        hostAddr: "127.0.0.1",
        hostPort: 0,
        guestAddr: "10.0.2.15",
        guestPort: 7,
      },
    });
    assertEquals(fwd.status, 201, fwd.text);
    assert(fwd.body.hostPort > 0, fwd.text);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: fwd.body.hostPort });
    await conn.write(new TextEncoder().encode("through the gateway"));
    const buf = new Uint8Array(64);
    let got = "";
    while (got.length < 19) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    assertEquals(got, "through the gateway");

    // Refusals change nothing.
    const forwards = async () => (await fx.call("GET", "/api/v1/gateways/gw/forwards")).body;
    const before = JSON.stringify(await forwards());
    const same = { ...fwd.body };
    delete same.id;
    const dup = await fx.call("POST", "/api/v1/gateways/gw/forwards", { json: same });
    assertEquals(dup.status, 409, dup.text);
    const badGuest = await fx.call("POST", "/api/v1/gateways/gw/forwards", {
      json: { ...same, hostPort: 0, guestAddr: "192.168.9.9" },
    });
    assertEquals(badGuest.status, 400, badGuest.text);
    const noGw = await fx.call("POST", "/api/v1/gateways/nope/forwards", { json: same });
    assertEquals(noGw.status, 404);
    assertEquals(JSON.stringify(await forwards()), before);
    const again = await fx.call("POST", "/api/v1/gateways", {
      json: { name: "gw", switch: "sw0", cidr: "10.0.3.0/24" },
    });
    assertEquals(again.status, 409);
    const badCidr = await fx.call("POST", "/api/v1/gateways", {
      json: { name: "gw2", switch: "sw0", cidr: "10.0.3.0/99" },
    });
    assertEquals(badCidr.status, 400, badCidr.text);
    assertEquals(fx.node.listGateways().length, 1);
    assertEquals(fx.node.get("sw0").switch.ports().length, 5, "no port taken by refusals");
    const busy = await fx.call("DELETE", "/api/v1/switches/sw0");
    assertEquals(busy.status, 409);
    assertMatch(busy.body.error, /gateway gw/);

    // Removing the forward stops the host listener.
    const del = await fx.call("DELETE", `/api/v1/gateways/gw/forwards/${fwd.body.id}`);
    assertEquals(del.status, 204, del.text);
    let refused = false;
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: fwd.body.hostPort })).close();
    } catch {
      refused = true;
    }
    assert(refused, "the host port is closed");
    assertEquals((await fx.call("DELETE", "/api/v1/gateways/gw/forwards/fwd99")).status, 404);
    assertEquals((await fx.call("DELETE", "/api/v1/gateways/gw")).status, 204);
    assertEquals((await fx.call("GET", "/api/v1/gateways")).body, []);
  } finally {
    await fx.node.close();
  }
});
