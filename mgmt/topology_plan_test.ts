import { assertEquals } from "@std/assert";
import { createApp } from "./app.ts";
import { LIMITS, Node } from "./node.ts";
import { exportTopology, parseTopology } from "./topology.ts";
import { planApply } from "./topology_plan.ts";

const TOKEN = "plan-test-token-0123456789";

const BASE = `switches:
  - name: core
    mtu: 1500
    vlans: { 2: access:10 }
  - name: old
stacks:
  - { name: web, switch: core, ipv4: 10.1.0.2/24, service: { kind: echo, port: 7 } }
  - { name: gone, switch: old, ipv4: 10.2.0.2/24 }
`;

const NEXT = `switches:
  - name: core
    mtu: 9000
    hub: true
    vlans: { 3: "trunk:10,20" }
  - name: new
    ports: 8
stacks:
  - { name: web, switch: core, ipv4: 10.1.0.2/24, service: { kind: echo, port: 7 } }
  - { name: db, switch: new, ipv4: 10.3.0.2/24 }
`;

async function nodeFrom(text: string) {
  const node = new Node({ id: "n", version: "0" });
  const app = createApp(node, { token: TOKEN });
  const t = parseTopology(text);
  for (const s of t.switches) await node.createSwitch(s, s.sock);
  for (const s of t.stacks) await node.createStack(s);
  for (const g of t.gateways) await node.createGateway(g);
  for (const r of t.routers) await node.createRouter(r);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };
  return { node, call };
}

Deno.test("plan: the same topology plans nothing; a change plans only the difference", async () => {
  const { node, call } = await nodeFrom(BASE);
  try {
    const live = parseTopology(exportTopology(node));
    assertEquals(planApply(live, parseTopology(BASE)), []);
    const steps = planApply(live, parseTopology(NEXT));
    assertEquals(steps.map((s) => s.text), [
      "- stack gone",
      "- switch old",
      '~ switch core: hub false → true, mtu 1500 → 9000, vlans {"2":"access:10"} → ' +
      '{"3":"trunk:10,20"}',
      `+ switch new (ports 8, mtu ${LIMITS.mtu.dflt})`,
      "+ stack db (on new, 10.3.0.2/24)",
    ]);

    // Applied through the API, the export is the file's topology; applying again plans nothing.
    for (const s of steps) {
      const r = await call(s.request.method, s.request.path, s.request.body);
      assertEquals(r.status < 300, true, `${s.text}: ${r.status} ${r.text}`);
    }
    const after = parseTopology(exportTopology(node));
    assertEquals(planApply(after, parseTopology(NEXT)), []);
    assertEquals(after.stacks.map((s) => s.name), ["web", "db"]);

    // Every undo, in reverse, gives back the first topology.
    for (const s of [...steps].reverse()) {
      const r = await call(s.undo.method, s.undo.path, s.undo.body);
      assertEquals(r.status < 300, true, `undo ${s.text}: ${r.status} ${r.text}`);
    }
    assertEquals(planApply(parseTopology(exportTopology(node)), parseTopology(BASE)), []);
  } finally {
    await node.close();
  }
});

Deno.test("plan: fixed settings replace a switch, and the stacks and cables on it", async () => {
  const { node } = await nodeFrom(BASE);
  try {
    const live = parseTopology(exportTopology(node));
    const want = parseTopology(BASE.replace("    mtu: 1500\n", "    mtu: 1500\n    ports: 4\n"));
    assertEquals(planApply(live, want).map((s) => s.text), [
      "- stack web (replaced)",
      "- switch core (replaced: ports 32 → 4)",
      "+ switch core (ports 4, mtu 1500, vlans 2=access:10)",
      "+ stack web (on core, 10.1.0.2/24, echo on 7)",
    ]);
    const cabled = parseTopology(
      BASE.replace("  - name: old\n", '  - name: old\n    connect: [ "vde:///tmp/x" ]\n'),
    );
    assertEquals(planApply(live, cabled).map((s) => s.text), ["+ cable old connect vde:///tmp/x"]);
    assertEquals(planApply(cabled, live).map((s) => s.text), ["- cable old connect vde:///tmp/x"]);
  } finally {
    await node.close();
  }
});

const GW = `${BASE}gateways:
  - name: nat
    switch: core
    cidr: 10.1.0.0/24
    gatewayAddr: 10.1.0.1
    dhcp: { start: 10.1.0.100, end: 10.1.0.150 }
    dns: true
`;

Deno.test("plan: gateways are created, replaced when changed, deleted; undo restores", async () => {
  const { node, call } = await nodeFrom(BASE);
  try {
    const base = parseTopology(exportTopology(node));
    const steps = planApply(base, parseTopology(GW));
    assertEquals(steps.map((s) => s.text), [
      "+ gateway nat (on core, 10.1.0.0/24, dhcp 10.1.0.100-10.1.0.150, dns)",
    ]);
    const changed = GW.replace("end: 10.1.0.150", "end: 10.1.0.199");
    for (const s of steps) {
      assertEquals((await call(s.request.method, s.request.path, s.request.body)).status, 201);
    }
    const live = parseTopology(exportTopology(node));
    assertEquals(planApply(live, parseTopology(GW)), []);
    const replace = planApply(live, parseTopology(changed));
    assertEquals(replace.map((s) => s.text), [
      "- gateway nat (replaced)",
      "+ gateway nat (on core, 10.1.0.0/24, dhcp 10.1.0.100-10.1.0.199, dns)",
    ]);
    for (const s of replace) {
      const r = await call(s.request.method, s.request.path, s.request.body);
      assertEquals(r.status < 300, true, `${s.text}: ${r.status} ${r.text}`);
    }
    assertEquals(planApply(parseTopology(exportTopology(node)), parseTopology(changed)), []);
    for (const s of [...replace].reverse()) {
      const r = await call(s.undo.method, s.undo.path, s.undo.body);
      assertEquals(r.status < 300, true, `undo ${s.text}: ${r.status} ${r.text}`);
    }
    assertEquals(planApply(parseTopology(exportTopology(node)), parseTopology(GW)), []);

    // A forward added through the API is live state: the file without it removes it (replace).
    const fwd = {
      proto: "tcp",
      hostAddr: "127.0.0.1",
      hostPort: 0,
      guestAddr: "10.1.0.9",
      guestPort: 22,
    };
    assertEquals((await call("POST", "/api/v1/gateways/nat/forwards", fwd)).status, 201);
    assertEquals(
      planApply(parseTopology(exportTopology(node)), parseTopology(GW)).map((s) => s.text),
      [
        "- gateway nat (replaced)",
        "+ gateway nat (on core, 10.1.0.0/24, dhcp 10.1.0.100-10.1.0.150, dns)",
      ],
    );

    // A switch replaced takes its gateway with it; a gateway left out of the file is deleted.
    const ports4 = GW.replace("    mtu: 1500\n", "    mtu: 1500\n    ports: 4\n");
    assertEquals(
      planApply(live, parseTopology(ports4)).map((s) => s.text),
      [
        "- gateway nat (replaced)",
        "- stack web (replaced)",
        "- switch core (replaced: ports 32 → 4)",
        "+ switch core (ports 4, mtu 1500, vlans 2=access:10)",
        "+ stack web (on core, 10.1.0.2/24, echo on 7)",
        "+ gateway nat (on core, 10.1.0.0/24, dhcp 10.1.0.100-10.1.0.150, dns)",
      ],
    );
    assertEquals(planApply(live, base).map((s) => s.text), ["- gateway nat"]);
  } finally {
    await node.close();
  }
});

const ROUTED = BASE + `routers:
  - name: r1
    interfaces:
      - { name: a, switch: core, cidr: 10.1.0.1/24 }
      - { name: b, switch: old, cidr: 10.2.0.1/24, cidr6: fd02::1/64, ra: true }
    routes: [ { dest: 10.9.0.0/16, via: 10.2.0.254 } ]
`;

Deno.test("plan: routers are created, replaced when changed or their switch goes, deleted; undo restores", async () => {
  const { node, call } = await nodeFrom(BASE);
  const run = async (steps: ReturnType<typeof planApply>, undo = false) => {
    for (const s of undo ? [...steps].reverse() : steps) {
      const q = undo ? s.undo : s.request;
      const r = await call(q.method, q.path, q.body);
      assertEquals(r.status < 300, true, `${s.text}: ${r.status} ${r.text}`);
    }
  };
  const liveNow = () => parseTopology(exportTopology(node));
  try {
    const base = liveNow();
    const add = planApply(base, parseTopology(ROUTED));
    assertEquals(add.map((s) => s.text), [
      "+ router r1 (a on core 10.1.0.1/24, b on old 10.2.0.1/24 fd02::1/64 ra, 1 route(s))",
    ]);
    await run(add);
    assertEquals(node.getRouter("r1").router.ports.length, 2);
    // up → export → apply of the export is a no-op, routers included.
    assertEquals(planApply(liveNow(), parseTopology(ROUTED)), []);
    assertEquals(planApply(liveNow(), parseTopology(exportTopology(node))), []);

    const changed = ROUTED.replace("via: 10.2.0.254", "via: 10.2.0.253");
    const replace = planApply(liveNow(), parseTopology(changed));
    assertEquals(replace.map((s) => s.text), [
      "- router r1 (replaced)",
      "+ router r1 (a on core 10.1.0.1/24, b on old 10.2.0.1/24 fd02::1/64 ra, 1 route(s))",
    ]);
    await run(replace);
    assertEquals(planApply(liveNow(), parseTopology(changed)), []);
    await run(replace, true);
    assertEquals(planApply(liveNow(), parseTopology(ROUTED)), []);

    // A switch replaced takes the router with it (deleted first, created last).
    const oldPorts = ROUTED.replace("  - name: old\n", "  - name: old\n    ports: 4\n");
    assertEquals(planApply(liveNow(), parseTopology(oldPorts)).map((s) => s.text), [
      "- router r1 (replaced)",
      "- stack gone (replaced)",
      "- switch old (replaced: ports 32 → 4)",
      `+ switch old (ports 4, mtu ${LIMITS.mtu.dflt})`,
      "+ stack gone (on old, 10.2.0.2/24)",
      "+ router r1 (a on core 10.1.0.1/24, b on old 10.2.0.1/24 fd02::1/64 ra, 1 route(s))",
    ]);
    const remove = planApply(liveNow(), base);
    assertEquals(remove.map((s) => s.text), ["- router r1"]);
    await run(remove);
    assertEquals(node.listRouters(), []);
    await run(remove, true);
    assertEquals(planApply(liveNow(), parseTopology(ROUTED)), []);
  } finally {
    await node.close();
  }
});
