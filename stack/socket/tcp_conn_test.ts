import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { parse_addr } from "../addr.ts";
import { FakeProvider, type FakeTcpCore } from "./fake_core.ts";
import { connect, listen, type StackConn } from "./mod.ts";

const HOST = parse_addr("10.0.0.2")!;

async function pair(bufferSize = 16): Promise<[StackConn, StackConn, FakeProvider]> {
  const p = new FakeProvider(HOST, bufferSize);
  const l = listen(p, { port: 80 });
  const [c, s] = await Promise.all([connect(p, { hostname: "10.0.0.2", port: 80 }), l.accept()]);
  l.close();
  return [c, s, p];
}

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

Deno.test("connect: addresses, read/write, EOF after peer closeWrite", async () => {
  const [c, s] = await pair();
  assertEquals(c.remoteAddr, { transport: "tcp", hostname: "10.0.0.2", port: 80 });
  assertEquals(s.localAddr.port, 80);
  assertEquals(s.remoteAddr.port, c.localAddr.port);
  assertEquals(await c.write(new TextEncoder().encode("hello")), 5);
  const buf = new Uint8Array(64);
  assertEquals(await s.read(buf), 5);
  assertEquals(new TextDecoder().decode(buf.subarray(0, 5)), "hello");
  // A pending read resolves when data arrives, then null at EOF.
  const pending = s.read(buf);
  await c.write(new Uint8Array([7]));
  assertEquals(await pending, 1);
  await c.closeWrite();
  assertEquals(await s.read(buf), null);
  assertEquals(await s.read(buf), null);
  // The other direction still works after the half close.
  assertEquals(await s.write(new Uint8Array([1, 2])), 2);
  assertEquals(await c.read(buf), 2);
  await assertRejects(() => c.write(new Uint8Array([1])), Deno.errors.NotConnected);
  s.close();
  assertEquals(await c.read(buf), null);
  c.close();
});

Deno.test("write: back-pressure — partial writes, waits for space, readable/writable move it all", async () => {
  const [c, s] = await pair(16);
  // The 16-byte receive buffer takes only part of a 40-byte write.
  assertEquals(await c.write(bytes(40)), 16);
  let done = false;
  const blocked = c.write(bytes(8)).then((n) => {
    done = true;
    return n;
  });
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(done, false, "write must wait while the send buffer is full");
  const buf = new Uint8Array(4);
  assertEquals(await s.read(buf), 4);
  assertEquals(await blocked, 4);

  // Streams: 10 KiB through 16-byte buffers, byte-exact, EOF ends the readable.
  const [c2, s2] = await pair(16);
  const data = bytes(10_000, 5);
  const writing = (async () => {
    const w = c2.writable.getWriter();
    for (let off = 0; off < data.length; off += 1000) await w.write(data.subarray(off, off + 1000));
    await w.close(); // half close → EOF at the reader
  })();
  const got = new Uint8Array(await new Response(s2.readable).arrayBuffer());
  await writing;
  assertEquals(got, data);
  c.close();
  s.close();
  c2.close();
});

Deno.test("errors map to Deno.errors with the peer in the message", async () => {
  const p = new FakeProvider(HOST);
  const e = await assertRejects(
    () => connect(p, { hostname: "10.0.0.2", port: 81 }),
    Deno.errors.ConnectionRefused,
  );
  assertEquals(e.message, "Connection refused: 10.0.0.2:81");
  await assertRejects(
    () => connect(p, { hostname: "example.com", port: 80 }),
    TypeError,
    "example.com",
  );
  await assertRejects(() => connect(p, { hostname: "10.0.0.2", port: 70000 }), TypeError, "70000");

  const [c, s, p2] = await pair();
  const buf = new Uint8Array(8);
  const pendingRead = c.read(buf);
  const client = p2.clients[0] as FakeTcpCore;
  assert(client.peer !== undefined);
  s.close(); // nothing unread: FIN → EOF for the client
  assertEquals(await pendingRead, null);

  const [c3, s3, p3] = await pair();
  const r = c3.read(buf);
  (p3.clients[0] as FakeTcpCore).fail("timeout");
  await assertRejects(() => r, Deno.errors.TimedOut, "10.0.0.2:80");
  await assertRejects(() => c3.write(new Uint8Array(1)), Deno.errors.TimedOut);

  // Unread data at close → RST → the peer's pending write is reset.
  const [c4, s4] = await pair(4);
  await c4.write(bytes(4));
  const w = c4.write(bytes(4));
  s4.close();
  await assertRejects(() => w, Deno.errors.ConnectionReset, "Connection reset");
  await assertRejects(() => c4.read(buf), Deno.errors.ConnectionReset);
  s3.close();
});

Deno.test("use after close is BadResource; pending ops reject; dispose is quiet", async () => {
  const [c, s] = await pair();
  const buf = new Uint8Array(8);
  const pending = c.read(buf);
  c.close();
  await assertRejects(() => pending, Deno.errors.BadResource);
  await assertRejects(() => c.read(buf), Deno.errors.BadResource);
  await assertRejects(() => c.write(buf), Deno.errors.BadResource);
  await assertRejects(() => c.closeWrite(), Deno.errors.BadResource);
  assertThrows(() => c.close(), Deno.errors.BadResource);
  c[Symbol.dispose]();
  assertEquals(await s.read(buf), null);
  s[Symbol.dispose]();
});

Deno.test("setNoDelay / setKeepAlive reach the core", async () => {
  const [c, , p] = await pair();
  const core = p.clients[0] as FakeTcpCore;
  c.setNoDelay();
  assertEquals(core.noDelay, true);
  c.setNoDelay(false);
  assertEquals(core.noDelay, false);
  c.setKeepAlive();
  assert(core.keepAliveMs >= 2 * 3600 * 1000, "RFC 1122 default is at least two hours");
  c.setKeepAlive(false);
  assertEquals(core.keepAliveMs, 0);
  c.ref();
  c.unref();
  c.close();
});
