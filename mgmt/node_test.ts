import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { createPair } from "../cable/pair.ts";
import { ConfigError, ConflictError, NotFoundError } from "../core/errors.ts";
import { Node } from "./node.ts";

const node = () => new Node({ id: "n", version: "0" });

Deno.test("node: switches by name, one bus for all their events", async () => {
  const n = node();
  const seen: string[] = [];
  n.events.on((e) => seen.push(`${e.switch}:${e.type}`));
  await n.createSwitch({ name: "a" });
  await n.createSwitch({ name: "b", hub: true });
  assertEquals(n.list().map((m) => m.switch.name), ["a", "b"]);
  n.attach("b", createPair("x")[0]);
  assertEquals(seen, ["b:port.up"]);
  n.deleteSwitch("a");
  assertThrows(() => n.get("a"), NotFoundError, 'No switch named "a"');
  await n.close();
  assertEquals(n.list(), []);
  assertEquals(seen, ["b:port.up", "b:port.down"]);
});

Deno.test("node: names are checked and unique, even while a create is in flight", async () => {
  const n = node();
  await assertRejects(() => n.createSwitch({ name: "a b" }), ConfigError, "Invalid switch name");
  const dir = await Deno.makeTempDir({ prefix: "weft-node-" });
  try {
    // The first create awaits its socket; a second with the same name must not slip in.
    const first = n.createSwitch({ name: "v" }, `${dir}/v`);
    await assertRejects(() => n.createSwitch({ name: "v" }), ConflictError, "already exists");
    await first;
    await assertRejects(() => n.createSwitch({ name: "v" }), ConflictError);
    // A create whose socket fails leaves the name free.
    await assertRejects(() => n.createSwitch({ name: "w" }, `${dir}/v`), ConflictError);
    await n.createSwitch({ name: "w" });
  } finally {
    await n.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node: ranges are the CLI's and the API's", async () => {
  const n = node();
  for (const spec of [{ ports: 0 }, { mtu: 67 }, { macLimit: 0 }, { ageingSec: 1.5 }]) {
    await assertRejects(() => n.createSwitch({ name: "s", ...spec }), ConfigError);
  }
  assertEquals(n.list(), []);
  const m = await n.createSwitch({ name: "s", macLimit: 100 });
  assertThrows(() => n.configureSwitch("s", { mtu: 10 }), ConfigError);
  assertThrows(() => n.configureSwitch("s", { macLimit: 50 }), ConflictError, "sized");
  assertEquals(m.switch.fdb.limit, 100);
  assert(n.configureSwitch("s", { macLimit: 100, ageingSec: 5 }));
  assertEquals(m.switch.fdb.ageingSec, 5);
  await n.close();
});
