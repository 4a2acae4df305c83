import { assert, assertEquals, assertGreater, assertLessOrEqual } from "@std/assert";
import { endpointContract, until } from "../tests/_harness/endpoint_contract.ts";
import { frame, mac } from "../tests/_harness/frames.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { closeFd, libc, SOCK_DGRAM, unixSocketPair } from "./ffi/libc.ts";
import { poller, POLLIN } from "./ffi/poller.ts";
import { UnixDgramEndpoint, type UnixDgramOptions } from "./unix_dgram.ts";

/** Two endpoints on a socketpair. */
function dgramLink() {
  const [x, y] = unixSocketPair(SOCK_DGRAM);
  const a = new UnixDgramEndpoint(x, "unix:a");
  const b = new UnixDgramEndpoint(y, "unix:b");
  return {
    a,
    b,
    async cleanup() {
      a.close();
      b.close();
      await poller().idle();
    },
  };
}

/** One endpoint and the raw descriptor of its peer, for writing odd datagrams and not reading. */
function rawLink(opts: UnixDgramOptions = {}) {
  const [x, raw] = unixSocketPair(SOCK_DGRAM);
  const ep = new UnixDgramEndpoint(x, "unix:ep", opts);
  let rawOpen = true;
  return {
    ep,
    raw,
    /** Write one datagram from the raw side; false on EAGAIN. */
    write(bytes: Uint8Array): boolean {
      return libc().write(raw, bytes, BigInt(bytes.length)) >= 0;
    },
    /** Read one datagram on the raw side; its length, or -1 when none is waiting. */
    read(buf: Uint8Array): number {
      return Number(libc().read(raw, buf, BigInt(buf.length)));
    },
    closeRaw() {
      if (rawOpen) closeFd(raw);
      rawOpen = false;
    },
    async cleanup() {
      ep.close();
      this.closeRaw();
      await poller().idle();
    },
  };
}

endpointContract("unix_dgram", () => Promise.resolve(dgramLink()), {
  mtu: MAX_FRAME,
  closePropagates: false, // datagram sockets have no hang-up; the VDE ctl stream carries it
});

Deno.test("unix_dgram: 9000 and 65535-byte frames pass, in order, byte-exact", async () => {
  const l = dgramLink();
  try {
    const got: Uint8Array[] = [];
    l.b.setSink((f) => got.push(f.slice()));
    const sent = [1514, 9000, MAX_FRAME, 60, 9018].map((n, i) =>
      frame({ dst: mac(2), src: mac(1), seq: i, length: n })
    );
    for (const f of sent) assert(l.a.send(f));
    assert(await until(() => got.length === sent.length), `got ${got.length}`);
    assertEquals(got, sent);
  } finally {
    await l.cleanup();
  }
});

Deno.test("unix_dgram: received runts and over-long datagrams are dropped and counted", async () => {
  const l = rawLink();
  try {
    const got: number[] = [];
    l.ep.setSink((f) => got.push(f.length));
    assert(l.write(new Uint8Array(13)));
    assert(l.write(new Uint8Array(0)));
    assert(l.write(new Uint8Array(MAX_FRAME + 100))); // truncated by the kernel: MSG_TRUNC
    assert(l.write(new Uint8Array(14)));
    assert(await until(() => got.length === 1 && l.ep.counters.totalDrops() === 3));
    assertEquals(got, [14]);
    assertEquals(l.ep.stats().drops, { runt: 2, oversize: 1 });
    assertEquals(l.ep.stats().framesIn, 1);
  } finally {
    await l.cleanup();
  }
});

Deno.test("unix_dgram: a peer that never reads costs counted drops, and the queue stays bounded", async () => {
  const l = rawLink();
  try {
    const f = frame({ dst: mac(2), src: mac(1), length: 1500 });
    let accepted = 0;
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 1000; i++) if (l.ep.send(f)) accepted++;
      await new Promise((r) => setTimeout(r, 1)); // flushes run, hit EAGAIN, wait for POLLOUT
    }
    const s = l.ep.stats();
    assertEquals(s.framesOut, accepted);
    assertEquals(accepted + (s.drops.queueFull ?? 0), 20_000);
    assertGreater(s.drops.queueFull ?? 0, 15_000);
    assertLessOrEqual(l.ep.queuedFrames, 1024);
    assertLessOrEqual(l.ep.queueCapacity, 2 * 1024 * 1024);
    assertLessOrEqual(l.ep.queuedBytes, l.ep.queueCapacity);
    assert(!l.ep.isClosed);

    // The reader wakes up: everything that was accepted arrives, in order (POLLOUT path).
    const buf = new Uint8Array(2048);
    let received = 0;
    const inFlight = accepted;
    assert(
      await until(() => {
        for (let n = l.read(buf); n >= 0; n = l.read(buf)) received++;
        return received === inFlight;
      }, 5000),
      `received ${received} of ${inFlight}`,
    );
    assertEquals(l.ep.queuedFrames, 0);
  } finally {
    await l.cleanup();
  }
});

Deno.test("unix_dgram: a small queue bound is honoured (frames and bytes)", async () => {
  const l = rawLink({ mtu: 1514, queueFrames: 8, queueBytes: 4 * 1514 });
  try {
    const f = frame({ dst: mac(2), src: mac(1), length: 1514 });
    // Fill the peer's receive queue first, so nothing leaves while we count.
    for (let i = 0; i < 64; i++) l.ep.send(f);
    await new Promise((r) => setTimeout(r, 5));
    const before = l.ep.stats().drops.queueFull ?? 0;
    let ok = 0;
    for (let i = 0; i < 10; i++) if (l.ep.send(f)) ok++;
    assertLessOrEqual(l.ep.queuedBytes, 4 * 1514);
    assertEquals(ok + (l.ep.stats().drops.queueFull ?? 0) - before, 10);
    assertLessOrEqual(ok, 4);
  } finally {
    await l.cleanup();
  }
});

Deno.test("unix_dgram: a vanished peer closes the endpoint (ECONNREFUSED)", async () => {
  const l = rawLink();
  try {
    l.closeRaw();
    l.ep.send(frame({ dst: mac(2), src: mac(1) }));
    const closed = await Promise.race([
      l.ep.closed.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
    ]);
    assert(closed, "endpoint closed");
    assertEquals(l.ep.closeReason, "ECONNREFUSED");
  } finally {
    await l.cleanup();
  }
});

Deno.test("unix_dgram: a sink that closes its endpoint mid-batch stops the drain", async () => {
  const l = rawLink();
  try {
    let n = 0;
    l.ep.setSink(() => {
      if (++n === 3) l.ep.close();
    });
    for (let i = 0; i < 8; i++) assert(l.write(frame({ dst: mac(2), src: mac(1), seq: i })));
    await l.ep.closed;
    assertEquals(n, 3);
  } finally {
    await l.cleanup();
  }
});

Deno.test("poller: a throwing handler is counted and the loop goes on; it stops when empty", async () => {
  const p = poller();
  const [x, y] = unixSocketPair(SOCK_DGRAM);
  const errorsBefore = p.errors;
  let calls = 0;
  const buf = new Uint8Array(64);
  try {
    p.register(x, {
      readable() {
        calls++;
        libc().read(x, buf, 64n); // consume, so level-triggering does not repeat it
        throw new Error("handler bug");
      },
      writable() {},
    }, POLLIN);
    const other = rawLink();
    const got: number[] = [];
    other.ep.setSink((f) => got.push(f.length));
    try {
      assert(libc().write(y, buf, 20n) >= 0);
      assert(await until(() => calls === 1));
      assertEquals(p.errors, errorsBefore + 1);
      assert(other.write(new Uint8Array(60)));
      assert(await until(() => got.length === 1), "the loop still serves other descriptors");
    } finally {
      other.ep.close();
      other.closeRaw();
    }
  } finally {
    p.unregister(x);
    closeFd(x);
    closeFd(y);
  }
  await p.idle();
  assertEquals(p.running, false);
  assertEquals(p.size, 0);
});
