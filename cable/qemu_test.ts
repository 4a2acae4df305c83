import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { endpointContract, until } from "../tests/_harness/endpoint_contract.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";
import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError } from "../core/errors.ts";
import { MemoryLogger } from "../core/log.ts";
import { listenEndpoints, openEndpoint } from "./mod.ts";
import { spawnWeft } from "../tests/_harness/weft.ts";
import { bindUnix, closeFd, SOCK_STREAM, unixSocket } from "./ffi/libc.ts";
import { openQemu, qemuStream } from "./qemu.ts";
import type { StreamEndpoint } from "./stream.ts";

/** A temporary directory with a socket path in it, removed by `cleanup`. */
async function tempSocket(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "weft-qemu-" });
  return { dir, path: `${dir}/qemu.sock` };
}

/** Both roles of the kind over a real unix stream socket: `?listen` and the client. */
async function qemuLink() {
  const { dir, path } = await tempSocket();
  const [a, b] = await Promise.all([
    openEndpoint(`qemu://${path}?listen`),
    (async () => {
      await until(() => exists(path), 3000);
      return await openEndpoint(`qemu://${path}`);
    })(),
  ]);
  return {
    a,
    b,
    cleanup: async () => {
      a.close();
      b.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

endpointContract("qemu", qemuLink, { mtu: MAX_FRAME, closePropagates: true });

/**
 * A qemu endpoint on one side, a raw socket on the other: the test plays the peer (QEMU, passt)
 * byte by byte.
 */
async function rawPeer(opts: { mtu?: number } = {}) {
  const { dir, path } = await tempSocket();
  const listener = Deno.listen({ transport: "unix", path });
  const errors: string[] = [];
  const [raw, conn] = await Promise.all([
    listener.accept(),
    Deno.connect({ transport: "unix", path }),
  ]);
  listener.close();
  const ep = qemuStream(conn, `qemu://${path}`, { mtu: opts.mtu, onError: (e) => errors.push(e) });
  const got: Uint8Array[] = [];
  ep.setSink((f) => got.push(f.slice()));
  return {
    ep,
    raw,
    got,
    errors,
    async cleanup() {
      ep.close();
      try {
        raw.close();
      } catch {
        // closed by the test
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The 4-byte big-endian length followed by the frame. */
function wire(f: Uint8Array, length = f.length): Uint8Array {
  const out = new Uint8Array(4 + f.length);
  new DataView(out.buffer).setUint32(0, length);
  out.set(f, 4);
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

Deno.test("qemu: frames go out as a 4-byte big-endian length and the frame, nothing else", async () => {
  const p = await rawPeer();
  try {
    const f1 = frame({ dst: BROADCAST, src: mac(1), length: 1500 });
    const f2 = frame({ dst: mac(2), src: mac(1), length: 65535 });
    assert(p.ep.send(f1));
    assert(p.ep.send(f2));
    const bytes = await readExactly(p.raw, 4 + 1500 + 4 + 65535);
    assertEquals([...bytes.subarray(0, 4)], [0, 0, 0x05, 0xdc]);
    assertEquals(bytes.subarray(4, 1504), f1);
    assertEquals([...bytes.subarray(1504, 1508)], [0, 0, 0xff, 0xff]);
    assertEquals(bytes.subarray(1508), f2);
  } finally {
    await p.cleanup();
  }
});

Deno.test("qemu: headers and frames split across reads are reassembled", async () => {
  const p = await rawPeer();
  try {
    const f = frame({ dst: mac(2), src: mac(1), seq: 7, length: 300 });
    const bytes = wire(f);
    // Byte by byte through the header, then the frame in two pieces, each write on its own.
    for (const piece of [[0, 1], [1, 2], [2, 3], [3, 4], [4, 100], [100, bytes.length]]) {
      await writeAll(p.raw, bytes.subarray(piece[0], piece[1]));
      await new Promise((r) => setTimeout(r, 10));
    }
    // A header split 3+1 with the next frame's first bytes behind it.
    const two = new Uint8Array([...wire(f), ...wire(f)]);
    await writeAll(p.raw, two.subarray(0, bytes.length + 3));
    await new Promise((r) => setTimeout(r, 10));
    await writeAll(p.raw, two.subarray(bytes.length + 3));
    assert(await until(() => p.got.length === 3), `got ${p.got.length} of 3 frames`);
    for (const g of p.got) assertEquals(g, f);
    assertEquals(p.ep.stats().drops, {});
  } finally {
    await p.cleanup();
  }
});

Deno.test("qemu: lengths below an Ethernet header are counted and skipped, in sync", async () => {
  const p = await rawPeer();
  try {
    const f = frame({ dst: mac(2), src: mac(1), length: 60 });
    const data = new Uint8Array([
      ...wire(new Uint8Array(0)), // zero length
      ...wire(new Uint8Array(13)), // one byte short of a header
      ...wire(f),
    ]);
    await writeAll(p.raw, data);
    assert(await until(() => p.got.length === 1));
    assertEquals(p.got[0], f);
    assertEquals(p.ep.stats().drops, { empty: 1, runt: 1 });
    assert(!p.ep.isClosed);
  } finally {
    await p.cleanup();
  }
});

Deno.test("qemu: a length above 65535 closes the stream with a clear error, as passt/QEMU", async () => {
  const p = await rawPeer();
  try {
    const f = frame({ dst: mac(2), src: mac(1), length: 60 });
    // One good frame, then a header that claims 65,536 bytes.
    await writeAll(p.raw, new Uint8Array([...wire(f), 0, 1, 0, 0, 1, 2, 3]));
    assert(await until(() => p.ep.isClosed), "the stream was closed");
    await p.ep.closed;
    assertEquals(p.got.length, 1);
    assertEquals(p.ep.stats().drops.badLength, 1);
    assertEquals(p.errors.length, 1);
    assertMatch(p.errors[0], /frame length 65536 exceeds the maximum 65535: stream closed/);
    // The peer sees the close (EOF) rather than a silent hang.
    const buf = new Uint8Array(16);
    assertEquals(await p.raw.read(buf), null);
  } finally {
    await p.cleanup();
  }
});

Deno.test("qemu: a smaller mtu bounds both directions", async () => {
  const p = await rawPeer({ mtu: 1514 });
  try {
    assertEquals(p.ep.mtu, 1514);
    assertEquals(p.ep.send(frame({ dst: mac(2), src: mac(1), length: 1515 })), false);
    assertEquals(p.ep.stats().drops.oversize, 1);
    await writeAll(p.raw, wire(frame({ dst: mac(2), src: mac(1), length: 1515 })));
    assert(await until(() => p.ep.isClosed));
    assertEquals(p.ep.stats().drops.badLength, 1);
  } finally {
    await p.cleanup();
  }
});

Deno.test("qemu: the peer closing the socket closes the endpoint", async () => {
  const p = await rawPeer();
  try {
    // Half a frame, then EOF: counted as truncated, reported, closed.
    await writeAll(p.raw, wire(frame({ dst: mac(2), src: mac(1), length: 100 })).subarray(0, 50));
    p.raw.close();
    await p.ep.closed;
    assertEquals(p.ep.stats().drops.truncated, 1);
    assertMatch(p.errors.join("\n"), /stream ended inside a frame/);
  } finally {
    await p.cleanup();
  }
});

Deno.test("qemu: clear errors for a missing socket, a stale one, unknown options", async () => {
  const { dir, path } = await tempSocket();
  try {
    const missing = await assertRejects(() => openEndpoint(`qemu://${path}`), ConfigError);
    assertMatch(missing.message, /Cannot open endpoint "qemu:\/\/.*qemu\.sock": no socket at /);
    await assertRejects(
      () => openEndpoint(`qemu://${path}?mtu=9000`),
      ConfigError,
      `unknown option "mtu" (qemu takes listen)`,
    );
    await assertRejects(() => openEndpoint("qemu:"), ConfigError, "the socket path is empty");
    // A stale socket (its listener gone without removing it) refuses connections…
    staleSocket(path);
    await assertRejects(() => openEndpoint(`qemu://${path}`), ConfigError, "nothing accepts");
    // …and `?listen` replaces it.
    const waiting = openEndpoint(`qemu://${path}?listen`);
    waiting.catch(() => {}); // awaited below; a failure must not escape as unhandled meanwhile
    const client = await connectWhenListening(path);
    const server = await waiting;
    // A live listener is not replaced.
    const l = Deno.listen({ transport: "unix", path: `${dir}/live.sock` });
    await assertRejects(
      () => openEndpoint(`qemu://${dir}/live.sock?listen`),
      ConfigError,
      "is in use",
    );
    l.close();
    client.close();
    server.close();
    await Promise.all([client.closed, server.closed]);
    // A regular file is never replaced.
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assertRejects(
      () => openEndpoint(`qemu://${dir}/file?listen`),
      ConfigError,
      "exists and is not a socket",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Leave a socket file whose listener is gone (as after `kill -9`). */
function staleSocket(path: string): void {
  const fd = unixSocket(SOCK_STREAM);
  try {
    assertEquals(bindUnix(fd, path), 0);
  } finally {
    closeFd(fd); // bound, never listened, closed: the file stays and refuses connections
  }
}

/** Connect once a listener accepts on `path` (bounded retries while it replaces a stale one). */
async function connectWhenListening(path: string): Promise<Endpoint> {
  for (let i = 0;; i++) {
    try {
      return await openEndpoint(`qemu://${path}`);
    } catch (e) {
      if (i >= 200) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

Deno.test("qemu: as a listener kind, every client is a new endpoint", async () => {
  const { dir, path } = await tempSocket();
  const accepted: Endpoint[] = [];
  const logger = new MemoryLogger();
  let refuse = false;
  const listener = await listenEndpoints(`qemu://${path}`, {
    logger,
    accept(ep) {
      if (refuse) throw new Error("switch full");
      accepted.push(ep);
    },
  });
  const clients: StreamEndpoint[] = [];
  try {
    assertEquals(listener.url, `qemu://${path}`);
    for (let i = 0; i < 3; i++) clients.push(await openQemu(path));
    assert(await until(() => accepted.length === 3));
    // Each client talks to its own endpoint.
    const got: number[][] = [[], [], []];
    accepted.forEach((ep, i) => ep.setSink((f) => got[i].push(f[16])));
    clients.forEach((c, i) => c.send(frame({ dst: BROADCAST, src: mac(i + 1), seq: i * 10 })));
    assert(await until(() => got.every((g) => g.length === 1)));
    assertEquals(new Set(got.map((g) => g[0])).size, 3);
    assertEquals(listener.accepted, 3);
    // A refused client is closed and counted.
    refuse = true;
    const extra = await openQemu(path);
    await extra.closed;
    assertEquals(listener.refused, { attachRefused: 1 });
    assertMatch(logger.lines.join("\n"), /qemu client refused.*switch full/);
  } finally {
    listener.close();
    await listener.closed;
    for (const c of [...clients, ...accepted]) c.close();
    assert(!exists(path), "closing the listener removes its socket");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("qemu: two clients exchange frames through weft switch --listen qemu://", async () => {
  const { dir, path } = await tempSocket();
  const sw = spawnWeft(["switch", "--sock", `${dir}/sw`, "--listen", `qemu://${path}`]);
  const conns: Deno.Conn[] = [];
  try {
    await sw.waitForOutput(/switch ready/, 30_000);
    // The clients are raw sockets framing by hand, as QEMU's net/stream.c does.
    for (let i = 0; i < 2; i++) conns.push(await Deno.connect({ transport: "unix", path }));
    await sw.waitForOutput(/port up port=\d+ endpoint="qemu client 2 on /);
    const [a, b] = conns;
    const hello = frame({ dst: BROADCAST, src: mac(0xa), seq: 1, length: 60 });
    await writeAll(a, wire(hello));
    assertEquals(await readExactly(b, 4 + 60), wire(hello));
    const reply = frame({ dst: mac(0xa), src: mac(0xb), seq: 2, length: 9000 });
    await writeAll(b, wire(reply));
    assertEquals(await readExactly(a, 4 + 9000), wire(reply));
  } finally {
    for (const c of conns) c.close();
    await sw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
