import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { parse_addr } from "../addr.ts";
import { FakeProvider } from "./fake_core.ts";
import { connect, listen } from "./mod.ts";

const HOST = parse_addr("fd00::2")!;

Deno.test("listener: accept queue, iterator, addr, close ends iteration", async () => {
  const p = new FakeProvider(HOST);
  const l = listen(p, { port: 0 });
  assertEquals(l.addr.transport, "tcp");
  assertEquals(l.addr.hostname, "::");
  const port = l.addr.port;
  // Two connections complete before anyone accepts: they wait in the queue.
  const c1 = await connect(p, { hostname: "fd00::2", port });
  const c2 = await connect(p, { hostname: "[fd00::2]", port });
  assertEquals(l.pending, 2);
  const seen: number[] = [];
  const it = (async () => {
    for await (const s of l) {
      seen.push(s.remoteAddr.port);
      s.close();
    }
  })();
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(seen, [c1.localAddr.port, c2.localAddr.port]);
  l.close();
  await it; // ends quietly
  await assertRejects(() => l.accept(), Deno.errors.BadResource);
  assertThrows(() => l.close(), Deno.errors.BadResource);
  // The port is free again once closed.
  listen(p, { port }).close();
});

Deno.test("listener: backlog bound resets extra connections; AddrInUse; pending accept rejects", async () => {
  const p = new FakeProvider(HOST);
  const l = listen(p, { port: 8080, backlog: 1 });
  assertThrows(() => listen(p, { port: 8080 }), Deno.errors.AddrInUse, "8080");
  await connect(p, { hostname: "fd00::2", port: 8080 });
  // The fake engine completes the handshake, then the full accept queue resets it.
  await assertRejects(
    () => connect(p, { hostname: "fd00::2", port: 8080 }),
    Deno.errors.ConnectionReset,
  );
  assertEquals(l.drops.backlogFull, 1);
  const first = await l.accept();
  const pending = l.accept();
  l.close();
  await assertRejects(() => pending, Deno.errors.BadResource);
  first.close();
  assertThrows(() => listen(p, { port: 1, hostname: "nope" }), TypeError, "nope");
});
