import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { parse_addr } from "../addr.ts";
import { FakeProvider } from "./fake_core.ts";
import { listenDatagram } from "./mod.ts";

const HOST = parse_addr("10.0.0.2")!;

Deno.test("datagram: send/receive with addresses, copies borrowed data, truncates to buf", async () => {
  const p = new FakeProvider(HOST);
  const a = listenDatagram(p, { port: 5000, hostname: "10.0.0.2" });
  const b = listenDatagram(p, { port: 0 });
  assertEquals(a.addr, { transport: "udp", hostname: "10.0.0.2", port: 5000 });
  assertEquals(await b.send(new Uint8Array([1, 2, 3]), a.addr), 3);
  const [data, from] = await a.receive();
  assertEquals(data, new Uint8Array([1, 2, 3]), "must be a copy, not the engine's scribbled view");
  assertEquals(from, { transport: "udp", hostname: "10.0.0.2", port: b.addr.port });
  // A pending receive wakes on arrival; a small buffer truncates.
  const pending = a.receive(new Uint8Array(2));
  await b.send(new Uint8Array([9, 8, 7]), a.addr);
  const [small] = await pending;
  assertEquals(small, new Uint8Array([9, 8]));
  // Too big for the engine: 0 and counted.
  assertEquals(await b.send(new Uint8Array(2000), a.addr), 0);
  assertEquals(b.drops.sendRejected, 1);
  await assertRejects(
    () => b.send(new Uint8Array(1), { transport: "udp", hostname: "h", port: 1 }),
    TypeError,
  );
  assertThrows(() => listenDatagram(p, { port: 5000 }), Deno.errors.AddrInUse);
  a.close();
  b.close();
});

Deno.test("datagram: bounded receive queue counts drops; close ends the iterator", async () => {
  const p = new FakeProvider(HOST);
  const a = listenDatagram(p, { port: 53, receiveQueue: 2 });
  const b = listenDatagram(p, { port: 54 });
  for (let i = 0; i < 5; i++) await b.send(new Uint8Array([i]), a.addr);
  assertEquals(a.drops.queueFull, 3);
  const got: number[] = [];
  const it = (async () => {
    for await (const [d] of a) got.push(d[0]);
  })();
  await new Promise((r) => setTimeout(r, 0));
  a.close();
  await it;
  assertEquals(got, [0, 1]);
  await assertRejects(() => a.receive(), Deno.errors.BadResource);
  b.close();
});
