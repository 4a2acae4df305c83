/**
 * Every long-running command serves the management API (issue 7): `weft serve`, `weft gateway`
 * and `weft router`, started with `--api 127.0.0.1:0 --state DIR` on weft switches (vde://, no
 * namespace or root needed), each report their role in /api/v1/node and what they run in their
 * resource; a forward added to a running `weft gateway` with `weft ctl` relays host TCP to an
 * echo service on the LAN; pings routed through `weft router` show in /api/v1/routers and
 * /metrics; a DHCP lease the gateway grants arrives as `lease.granted` on /events.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { type Lab, peerTest } from "./_harness/lab.ts";
import { type Background, waitUntil } from "./_harness/process.ts";
import { runWeft } from "./_harness/weft.ts";
import { openVde } from "../cable/vde.ts";

interface Api {
  url: string;
  state: string;
  token: string;
  get(path: string): Promise<unknown>;
  text(path: string): Promise<string>;
}

/** Start `weft ARGS… --api 127.0.0.1:0 --state DIR` and wait for its "api ready" line and `ready`. */
async function startWithApi(
  lab: Lab,
  name: string,
  args: string[],
  ready: RegExp,
): Promise<{ p: Background; api: Api }> {
  const state = await lab.mkdir(`state-${name}`);
  const p = lab.spawnWeft([...args, "--api", "127.0.0.1:0", "--state", state], { name });
  const url = await waitUntil(`${name}: the api ready line`, () => {
    if (p.exitStatus) throw new Error(`${name} exited:\n${p}`);
    return /api ready url=(\S+)/.exec(p.errors)?.[1];
  }, { timeoutMs: 45_000 });
  await p.waitForOutput(ready, 45_000);
  const token = (await Deno.readTextFile(`${state}/api.token`)).trim();
  const text = async (path: string) => {
    const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.text();
    assertEquals(r.status, 200, `GET ${path}: ${body}`);
    return body;
  };
  return {
    p,
    api: { url, state, token, text, get: async (path) => JSON.parse(await text(path)) },
  };
}

// deno-lint-ignore no-explicit-any
type Json = any;

peerTest(
  "api roles: weft serve, gateway and router serve the API with their stack, gateway, router",
  { tools: [] },
  async (lab) => {
    const lan = await lab.weftSwitch();
    const far = await lab.weftSwitch();

    const serve = await startWithApi(lab, "weft serve", [
      "serve",
      "--switch",
      lan.url,
      "--name",
      "echo",
      "--ip",
      "10.0.2.30/24",
      "--gw",
      "10.0.2.1",
      "--echo",
      "7",
    ], /^weft serve: ready$/m);
    const node: Json = await serve.api.get("/api/v1/node");
    assertEquals(node.roles, ["stack"]);
    const stacks: Json = await serve.api.get("/api/v1/stacks");
    assertEquals(stacks.map((s: Json) => s.name), ["echo"]);
    assert(stacks[0].addresses.includes("10.0.2.30/24"), JSON.stringify(stacks[0]));
    assertEquals(stacks[0].service, { kind: "echo", port: 7, accepted: 0 });

    const gw = await startWithApi(lab, "weft gateway", [
      "gateway",
      "--switch",
      lan.url,
      "--cidr",
      "10.0.2.0/24",
    ], /^weft gateway: ready$/m);
    assertEquals((await gw.api.get("/api/v1/node") as Json).roles, ["gateway"]);
    const gws: Json = await gw.api.get("/api/v1/gateways");
    assertEquals(gws.map((g: Json) => [g.name, g.cidr, g.url]), [["gw0", "10.0.2.0/24", lan.url]]);
    // A forward added at runtime with weft ctl: host TCP → the echo service on the LAN.
    const ctl = await runWeft([
      "ctl",
      "--api",
      gw.api.url,
      "--state",
      gw.api.state,
      "--json",
      "create",
      "forward",
      "gw0",
      "proto=tcp",
      "hostAddr=127.0.0.1",
      "hostPort=0",
      "guestAddr=10.0.2.30",
      "guestPort=7",
    ]);
    assertEquals(ctl.code, 0, ctl.stderr);
    const fwd = JSON.parse(ctl.stdout);
    assert(fwd.hostPort > 0, ctl.stdout);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: fwd.hostPort });
    try {
      await conn.write(new TextEncoder().encode("through the forward\n"));
      const buf = new Uint8Array(64);
      let got = "";
      const deadline = Date.now() + 15_000;
      while (!got.includes("\n") && Date.now() < deadline) {
        const n = await conn.read(buf);
        if (n === null) break;
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
      assertEquals(got, "through the forward\n");
    } finally {
      conn.close();
    }
    const listed: Json = await gw.api.get("/api/v1/gateways/gw0");
    assertEquals(listed.forwards.map((f: Json) => f.id), [fwd.id]);
    const echoed: Json = await serve.api.get("/api/v1/stacks/echo");
    assertEquals(echoed.service.accepted, 1);

    const router = await startWithApi(lab, "weft router", [
      "router",
      "--iface",
      `lan=${lan.url},10.0.2.1/24`,
      "--iface",
      `far=${far.url},10.9.0.1/24`,
    ], /^weft router: ready$/m);
    assertEquals((await router.api.get("/api/v1/node") as Json).roles, ["router"]);
    // A stack on the far LAN pings the echo stack through the router.
    const ping = await runWeft([
      "ping",
      "--switch",
      far.url,
      "--ip",
      "10.9.0.2/24",
      "--gw",
      "10.9.0.1",
      "--count",
      "3",
      "--interval",
      "0.2",
      "10.0.2.30",
    ], { timeoutMs: 45_000 });
    assertEquals(ping.code, 0, `${ping.stdout}\n${ping.stderr}`);
    const routers: Json = await router.api.get("/api/v1/routers");
    assertEquals(routers.map((r: Json) => r.name), ["r0"]);
    const r0: Json = await router.api.get("/api/v1/routers/r0");
    assertEquals(r0.interfaces.map((i: Json) => [i.name, i.url]), [
      ["lan", lan.url],
      ["far", far.url],
    ]);
    assert(r0.interfaces[0].addresses.includes("10.0.2.1/24"), JSON.stringify(r0.interfaces));
    assert(
      r0.routes.some((r: Json) => r.dest === "10.9.0.0/24" && r.interface === "far"),
      JSON.stringify(r0.routes),
    );
    // 3 requests and 3 replies (ARP is not forwarded).
    assert(r0.forwarded4 >= 6, `forwarded4 ${r0.forwarded4}`);
    const metrics = await router.api.text("/metrics");
    const m = /^weft_router_forwarded_total\{router="r0",family="ipv4"\} (\d+)$/m.exec(metrics);
    assert(m && Number(m[1]) >= 6, metrics);
    assertMatch(metrics, /^# TYPE weft_router_drops_total counter$/m);
    const shown = await runWeft([
      "ctl",
      "--api",
      router.api.url,
      "--state",
      router.api.state,
      "--json",
      "show",
      "router",
      "r0",
    ]);
    assertEquals(shown.code, 0, shown.stderr);
    assertEquals(JSON.parse(shown.stdout).name, "r0");
    const listed2 = await runWeft([
      "ctl",
      "--api",
      router.api.url,
      "--state",
      router.api.state,
      "list",
      "routers",
    ]);
    assertMatch(listed2.stdout, /\br0\b/);
    console.log(`router forwarded ${r0.forwarded4} IPv4 packets for 3 routed pings`);
  },
  { timeoutMs: 150_000 },
);

Deno.test("api roles: a bad --api or --name of serve, gateway, router exits 2 before anything opens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-roles-" });
  try {
    const sock = `vde://${dir}/no-switch`;
    const cases = [
      ["serve", "--switch", sock, "--ip", "10.0.0.2/24", "--echo", "7"],
      ["gateway", "--switch", sock, "--cidr", "10.0.2.0/24"],
      ["router", "--iface", `a=${sock},10.0.0.1/24`],
    ];
    for (const args of cases) {
      const api = await runWeft([...args, "--api", "nohost", "--state", dir]);
      assertEquals(api.code, 2, `${args[0]} --api nohost: ${api.stderr}`);
      assertMatch(api.stderr, /Invalid --api "nohost"/);
      const name = await runWeft([...args, "--name", "bad name", "--api", "none"]);
      assertEquals(name.code, 2, `${args[0]} --name: ${name.stderr}`);
      assertMatch(name.stderr, /--name "bad name"/);
    }
    // Nothing was written: no token, no identity.
    assertEquals([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Collect SSE events (data plus `type`) from GET /events until `until` is true (bounded). */
async function watchEvents(api: Api, until: (seen: Json[]) => boolean, timeoutMs: number) {
  const res = await fetch(`${api.url}/events`, {
    headers: { authorization: `Bearer ${api.token}` },
  });
  assertEquals(res.status, 200);
  const reader = res.body!.getReader();
  const timer = setTimeout(() => reader.cancel(), timeoutMs);
  const seen: Json[] = [];
  const done = (async () => {
    const dec = new TextDecoder();
    let text = "";
    try {
      while (!until(seen)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
        let i;
        while ((i = text.indexOf("\n\n")) >= 0) {
          const block = text.slice(0, i);
          text = text.slice(i + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) seen.push({ ...JSON.parse(data), type });
        }
      }
    } finally {
      clearTimeout(timer);
      await reader.cancel().catch(() => {});
    }
    return seen;
  })();
  return done;
}

peerTest(
  "api roles: weft gateway's DHCP leases arrive on GET /events as lease.granted and lease.released",
  { tools: [] },
  async (lab) => {
    const lan = await lab.weftSwitch();
    const gw = await startWithApi(lab, "weft gateway", [
      "gateway",
      "--switch",
      lan.url,
      "--cidr",
      "10.0.2.0/24",
      "--dhcp",
      "10.0.2.15-10.0.2.20",
    ], /^weft gateway: ready$/m);
    const leaseEvents = (seen: Json[]) => seen.filter((e) => e.type.startsWith("lease."));
    const events = watchEvents(gw.api, (seen) => leaseEvents(seen).length >= 2, 45_000);
    const guest = lab.spawnWeft(
      ["serve", "--switch", lan.url, "--ip", "dhcp", "--echo", "7"],
      { name: "weft serve" },
    );
    await guest.waitForOutput(/^weft serve: ready$/m, 45_000);
    const mac = /MAC ([0-9a-f:]{17})/.exec(guest.output)?.[1];
    const addr = /tcp:\/\/(10\.0\.2\.\d+):7\//.exec(guest.output)?.[1];
    assert(mac && addr, guest.output);
    const leases: Json = await gw.api.get("/api/v1/gateways/gw0/leases");
    assertEquals(leases.map((l: Json) => [l.mac, l.addr]), [[mac, addr]]);
    // SIGTERM: the stack releases its lease (RFC 2131 §4.4.6).
    guest.signal("SIGTERM");
    await guest.waitExit(15_000);
    const got = leaseEvents(await events);
    assertEquals(got.map((e) => [e.type, e.gateway, e.mac, e.addr]), [
      ["lease.granted", "gw0", mac, addr],
      ["lease.released", "gw0", mac, addr],
    ]);
  },
  { timeoutMs: 120_000 },
);

peerTest(
  "api roles: weft cable serves the API with its join: link, counters per side, metrics",
  { tools: [] },
  async (lab) => {
    const a = await lab.weftSwitch();
    const b = await lab.weftSwitch();
    const cable = await startWithApi(lab, "weft cable", [
      "cable",
      "--name",
      "link",
      a.url,
      b.url,
    ], /cable up/);
    assertEquals((await cable.api.get("/api/v1/node") as Json).roles, ["cable"]);
    // A host on switch A broadcasts: A floods it into the cable, which carries it to B.
    const host = await openVde(a.dir, { mtu: 1500 });
    try {
      const f = new Uint8Array(64).fill(0xff, 0, 6);
      f.set([2, 0, 0, 0, 0, 7, 0x88, 0xb5], 6);
      for (let i = 0; i < 5; i++) host.send(f);
      const view = await waitUntil("the cable to count 5 frames from A", async () => {
        const cables: Json = await cable.api.get("/api/v1/cables");
        return cables[0]?.framesIn >= 5 ? cables[0] : undefined;
      }, { timeoutMs: 10_000 });
      assertEquals(
        [view.name, view.direction, view.switch, view.url, view.peer, view.link],
        ["link", "join", null, a.url, b.url, "up"],
      );
      assertEquals(view.bytesIn, 5 * 64);
      const metrics = await cable.api.text("/metrics");
      const labels = `switch="",kind="join",url="${a.url}"`;
      assertMatch(metrics, new RegExp(`^weft_cable_up\\{${labels}\\} 1$`, "m"));
      assertMatch(
        metrics,
        new RegExp(`^weft_cable_frames_total\\{${labels},direction="in"\\} 5$`, "m"),
      );
    } finally {
      host.close();
    }
    // Switch B going away ends the cable, and the process with it.
    await b.stop();
    const status = await waitUntil("weft cable to exit", () => cable.p.exitStatus, {
      timeoutMs: 10_000,
    });
    assertEquals(status.code, 0, `${cable.p}`);
  },
);
