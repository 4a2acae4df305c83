import { cableView } from "./api/views.ts";
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { createPair } from "../cable/pair.ts";
import { ConflictError } from "../core/errors.ts";
import { join } from "./cli/join.ts";
import { renderMetrics } from "./metrics.ts";
import { loadOrCreateIdentity } from "../cable/identity.ts";
import { openEndpoint } from "../cable/mod.ts";
import type { WeftEvent } from "../core/events.ts";
import { MemoryLogger } from "../core/log.ts";
import { Node } from "./node.ts";

/** `text` as a regular expression that matches it literally. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

Deno.test("node events: a TLS cable with a wrong token is cable.auth.failed; a reconnecting cable goes down and up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-node-events-" });
  await Deno.writeTextFile(`${dir}/tokens`, "right-token\n");
  const a = new Node({ id: "a", version: "0", logger: new MemoryLogger(), stateDir: `${dir}/a` });
  const b = new Node({ id: "b", version: "0", logger: new MemoryLogger(), stateDir: `${dir}/b` });
  const aEvents: WeftEvent[] = [];
  const bEvents: WeftEvent[] = [];
  a.events.on((e) => aEvents.push(e));
  b.events.on((e) => bEvents.push(e));
  try {
    await a.createSwitch({ name: "sw0" });
    await b.createSwitch({ name: "sw0" });
    const l = await a.listen("sw0", `tls://127.0.0.1:0?token-file=${dir}/tokens`);
    const fp = (await loadOrCreateIdentity(`${dir}/a`)).fingerprint;

    await assertRejects(() =>
      openEndpoint(`${l.url}?fp=${fp}&token=wrong-token`, { logger: new MemoryLogger() })
    );
    assert(await until(() => aEvents.some((e) => e.type === "cable.auth.failed")), "auth event");
    const failed = aEvents.find((e) => e.type === "cable.auth.failed")!;
    assertEquals([failed.switch, failed.reason], ["sw0", "badToken"]);
    assertEquals(failed.url, `tls://127.0.0.1:0?token-file=${dir}/tokens`);

    const url = `${l.url}?fp=${fp}&token=right-token`;
    const port = await b.connect("sw0", url);
    assert(await until(() => a.get("sw0").switch.ports().length === 1), "A accepted the cable");
    // A drops the connection: B's reconnecting cable goes down, dials again, comes back up.
    a.detachPort("sw0", a.get("sw0").switch.ports()[0].number);
    assert(
      await until(() => bEvents.some((e) => e.type === "cable.up")),
      JSON.stringify(bEvents.map((e) => e.type)),
    );
    const cable = bEvents.filter((e) => e.type.startsWith("cable."));
    assertEquals(cable.map((e) => [e.type, e.switch, e.url, e.port]), [
      ["cable.down", "sw0", url, port.number],
      ["cable.up", "sw0", url, port.number],
    ]);
    // The cable views carry the same story: A's listener counted the refusal by reason, B's
    // re-dialling cable its connects.
    const listenView = cableView(a.cables().find((c) => c.direction === "listen")!);
    assertEquals(listenView.refused.badToken, 1);
    assert(listenView.accepted !== null && listenView.accepted >= 2, JSON.stringify(listenView));
    const dialView = cableView(b.cables().find((c) => c.direction === "connect")!);
    assert(
      dialView.reconnect !== null && dialView.reconnect.connects >= 2,
      JSON.stringify(dialView),
    );
  } finally {
    await b.close();
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node events: a ws:// listener's wrong token is cable.auth.failed with the peer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-node-events-" });
  await Deno.writeTextFile(`${dir}/tokens`, "right-token\n");
  const a = new Node({ id: "a", version: "0", logger: new MemoryLogger(), stateDir: `${dir}/a` });
  const events: WeftEvent[] = [];
  a.events.on((e) => events.push(e));
  try {
    await a.createSwitch({ name: "sw0" });
    const listenUrl = `ws://127.0.0.1:0/weft?token-file=${dir}/tokens`;
    const l = await a.listen("sw0", listenUrl);
    await assertRejects(() =>
      openEndpoint(`${l.url}?token=wrong-token`, { logger: new MemoryLogger() })
    );
    assert(await until(() => events.some((e) => e.type === "cable.auth.failed")), "auth event");
    const failed = events.find((e) => e.type === "cable.auth.failed")!;
    assertEquals([failed.switch, failed.url, failed.reason], ["sw0", listenUrl, "badToken"]);
    assert(/^127\.0\.0\.1:\d+$/.test(String(failed.peer)), String(failed.peer));
    // The right token gets a port; a plain HTTP request is a cable.refused.
    const ep = await openEndpoint(`${l.url}?token=right-token`, { logger: new MemoryLogger() });
    try {
      assert(await until(() => a.get("sw0").switch.ports().length === 1), "a port");
    } finally {
      ep.close();
    }
    const res = await fetch(l.url.replace(/^ws:/, "http:"));
    await res.body?.cancel();
    assertEquals(res.status, 426);
    assert(await until(() => events.some((e) => e.type === "cable.refused")), "refused event");
    assertEquals(events.find((e) => e.type === "cable.refused")!.reason, "notWebSocket");
  } finally {
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node: a joined pair of endpoints is a cable (join) with events, views and metrics", async () => {
  const node = new Node({ id: "n", version: "0" });
  const seen: WeftEvent[] = [];
  node.events.on((e) => seen.push(e));
  const [a, aFar] = createPair("side-a");
  const [b, bFar] = createPair("side-b");
  const joined = join(a, b);
  try {
    node.adoptJoin("link", a, b);
    assertThrows(() => node.adoptJoin("link", a, b), ConflictError);
    assertEquals(node.roles, ["cable"]);
    aFar.send(new Uint8Array(60).fill(0xff, 0, 6));
    const v = cableView(node.cables()[0]);
    assertEquals(
      [v.name, v.direction, v.switch, v.url, v.peer, v.link, v.framesIn, v.bytesIn],
      ["link", "join", null, a.url, b.url, "up", 1, 60],
    );
    const metrics = renderMetrics(node);
    assertMatch(
      metrics,
      new RegExp(
        `^weft_cable_frames_total\\{switch="",kind="join",url="${
          literal(a.url)
        }",direction="in"\\} 1$`,
        "m",
      ),
    );
    // The far side of B goes away: the join ends, the cable reports down.
    bFar.close();
    await joined;
    assertEquals(cableView(node.cables()[0]).link, "down");
    assertEquals(seen.filter((e) => e.type.startsWith("cable.")).map((e) => [e.type, e.cable]), [
      ["cable.up", "link"],
      ["cable.down", "link"],
    ]);
  } finally {
    await node.close();
    aFar.close();
  }
  assertEquals(node.cables(), []);
});

Deno.test("metrics: cables are labelled by URL with the token cut out; listeners count refusals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-cable-metrics-" });
  await Deno.writeTextFile(`${dir}/tokens`, "right-token\n");
  const a = new Node({ id: "a", version: "0", logger: new MemoryLogger(), stateDir: dir });
  const b = new Node({ id: "b", version: "0", logger: new MemoryLogger(), stateDir: dir });
  try {
    await a.createSwitch({ name: "sw0" });
    await b.createSwitch({ name: "sw0" });
    const l = await a.listen("sw0", `tcp://127.0.0.1:0?token-file=${dir}/tokens`);
    await assertRejects(() =>
      openEndpoint(`${l.url}?token=wrong-token`, { logger: new MemoryLogger() })
    );
    await b.connect("sw0", `${l.url}?token=right-token`);
    assert(await until(() => a.get("sw0").switch.ports().length === 1), "A accepted the cable");
    const am = renderMetrics(a), bm = renderMetrics(b);
    const listenLabels = literal(
      `switch="sw0",kind="listen",url="tcp://127.0.0.1:0?token-file=${dir}/tokens"`,
    );
    assertMatch(
      am,
      new RegExp(`^weft_cable_refused_total\\{${listenLabels},reason="badToken"\\} 1$`, "m"),
    );
    assertMatch(am, new RegExp(`^weft_cable_accepted_total\\{${listenLabels}\\} 1$`, "m"));
    assert(!bm.includes("right-token"), "the token is not in the metrics");
    assertMatch(
      bm,
      /^weft_cable_up\{switch="sw0",kind="connect",url="tcp:\/\/127\.0\.0\.1:\d+\?token=…"\} 1$/m,
    );
    assertMatch(bm, /^weft_cable_connects_total\{switch="sw0",kind="connect",url="[^"]+"\} 1$/m);
  } finally {
    await b.close();
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
