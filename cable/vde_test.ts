import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { endpointContract, until } from "../tests/_harness/endpoint_contract.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";
import { spawn } from "../tests/_harness/process.ts";
import { missingRequirements } from "../tests/_harness/requirements.ts";
import { VdeSwitch } from "../tests/_harness/vde_switch.ts";
import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError, ConflictError } from "../core/errors.ts";
import { MemoryLogger } from "../core/log.ts";
import { Switch } from "../switch/switch.ts";
import { bindUnix, closeFd, SOCK_DGRAM, SOCK_STREAM, unixSocket } from "./ffi/libc.ts";
import { poller } from "./ffi/poller.ts";
import { createPair } from "./pair.ts";
import { openEndpoint } from "./mod.ts";
import type { UnixDgramEndpoint } from "./unix_dgram.ts";
import { openVde } from "./vde.ts";
import { VdeServer } from "./vde_server.ts";
import { encodeRequest } from "./vde_ctl.ts";

/** A temp dir, a weft Switch and a VdeServer in `<tmp>/sw`, all released by `cleanup`. */
async function weftSwitch(opts: { requestTimeoutMs?: number } = {}) {
  const tmp = await Deno.makeTempDir({ prefix: "weft-vde-" });
  const dir = `${tmp}/sw`;
  const sw = new Switch({ name: "test" });
  const logger = new MemoryLogger();
  const server = await VdeServer.listen(dir, {
    logger,
    requestTimeoutMs: opts.requestTimeoutMs,
    attach: (ep, port, description) => sw.attach(ep, { port, description }).number,
  });
  const opened: UnixDgramEndpoint[] = [];
  return {
    tmp,
    dir,
    sw,
    server,
    logger,
    async open(port?: number, mtu?: number): Promise<UnixDgramEndpoint> {
      const ep = await openVde(dir, { port, mtu, description: "test" });
      opened.push(ep);
      return ep;
    },
    async cleanup() {
      for (const ep of opened) ep.close();
      server.close();
      sw.close();
      await server.closed;
      await poller().idle();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
}

function collect(ep: Endpoint): Uint8Array[] {
  const got: Uint8Array[] = [];
  ep.setSink((f) => got.push(f.slice()));
  return got;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]);
}

// ---- the link itself: client endpoint ⇄ the server's endpoint for it, no switch between ----

endpointContract("vde", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-vde-" });
  let serverSide: Endpoint | undefined;
  const server = await VdeServer.listen(`${tmp}/sw`, {
    attach: (ep) => {
      serverSide = ep;
      return 1;
    },
  });
  const a = await openVde(`${tmp}/sw`, { mtu: MAX_FRAME - 14 }); // announces the largest MTU
  assert(await until(() => serverSide !== undefined));
  return {
    a,
    b: serverSide!,
    async cleanup() {
      a.close();
      server.close();
      await server.closed;
      await poller().idle();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
}, { mtu: MAX_FRAME, closePropagates: true });

// ---- weft client ⇄ weft server ----

Deno.test("vde: two weft clients exchange frames both ways through a weft switch", async () => {
  const t = await weftSwitch();
  try {
    const a = await t.open();
    const b = await openEndpoint(`vde://${t.dir}?port=7`); // through the registry
    assertEquals(t.sw.ports().map((p) => p.number), [1, 7]);
    assertMatch(t.sw.port(1)!.description, /^test mtu=1500 user=\S+ pid=\d+$/);
    const gotA = collect(a);
    const gotB = collect(b);
    const fa = frame({ dst: BROADCAST, src: mac(1), seq: 1 });
    const fb = frame({ dst: mac(1), src: mac(2), seq: 2, length: 1514 });
    assert(a.send(fa));
    assert(await until(() => gotB.length === 1));
    assert(b.send(fb)); // unicast to a: the switch learned mac(1) on port 1
    assert(await until(() => gotA.length === 1));
    assertEquals(gotB, [fa]);
    assertEquals(gotA, [fb]);
    assertEquals(t.server.attached, 2);
    assertEquals(t.server.clients, 2);
    // One data socket per port besides ctl (named data-N; clients take the name from the reply).
    const names = [...Deno.readDirSync(t.dir)].map((e) => e.name).sort();
    assertEquals(names.length, 3, names.join(" "));
    assertMatch(names.join(" "), /^ctl data-\d+ data-\d+$/);
    b.close();
    assert(await until(() => t.sw.ports().length === 1), "port 7 detached after the client left");
    assert(await until(() => [...Deno.readDirSync(t.dir)].length === 2), "its socket removed");
  } finally {
    await t.cleanup();
  }
});

Deno.test("vde: URL forms: vde:///abs, vde:abs, vde://relative, ?port=N", async () => {
  const t = await weftSwitch();
  try {
    const rel = relativeTo(Deno.cwd(), t.dir);
    const urls = [`vde://${t.dir}`, `vde:${t.dir}`, `vde://${rel}`, `vde://${t.dir}/?port=9`];
    const eps = [];
    for (const u of urls) eps.push(await openEndpoint(u));
    try {
      assertEquals(t.sw.ports().map((p) => p.number), [1, 2, 3, 9]);
      assertEquals(eps[2].url, `vde://${t.dir}`);
      assertEquals(eps[3].url, `vde://${t.dir}?port=9`);
    } finally {
      for (const ep of eps) ep.close();
    }
  } finally {
    await t.cleanup();
  }
});

/** `to` relative to `from` (both absolute, normalised). */
function relativeTo(from: string, to: string): string {
  const a = from.split("/").filter(Boolean);
  const b = to.split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}

Deno.test("vde: 9000 and 65535-byte frames pass weft ⇄ weft through the switch", async () => {
  const t = await weftSwitch();
  try {
    const a = await t.open(undefined, MAX_FRAME - 14);
    const b = await t.open(undefined, MAX_FRAME - 14);
    const c = await t.open(); // the classic 1,500: too small for these frames
    const gotC = collect(c);
    const got = collect(b);
    const sent = [9000, MAX_FRAME, 9018, 60].map((n, i) =>
      frame({ dst: BROADCAST, src: mac(1), seq: i, length: n })
    );
    for (const f of sent) assert(a.send(f));
    assert(await until(() => got.length === sent.length), `got ${got.length}`);
    assertEquals(got, sent);
    assertEquals(gotC, [sent[3]], "a 1500-MTU client gets only the small frame");
    assertEquals(t.sw.ports()[2].counters.drops, { oversize: 3 }, "the others are counted");
  } finally {
    await t.cleanup();
  }
});

Deno.test("vde: many frames in both directions at once arrive complete and in order", async () => {
  const t = await weftSwitch();
  try {
    const a = await t.open();
    const b = await t.open();
    const gotA = collect(a);
    const gotB = collect(b);
    a.send(frame({ dst: BROADCAST, src: mac(1) }));
    b.send(frame({ dst: BROADCAST, src: mac(2) }));
    assert(await until(() => gotA.length === 1 && gotB.length === 1));
    gotA.length = gotB.length = 0;
    const N = 5000;
    const next = (ep: UnixDgramEndpoint, i: number, src: number, dst: number) =>
      ep.send(frame({ dst: mac(dst), src: mac(src), seq: i, length: 60 + i % 1400 }));
    let sentA = 0;
    let sentB = 0;
    for (let turn = 0; turn < 10_000 && (sentA < N || sentB < N); turn++) {
      // As fast as the queues take them (the kernel holds few datagrams), yielding in between.
      while (sentA < N && a.queuedFrames < 500) assert(next(a, sentA++, 1, 2));
      while (sentB < N && b.queuedFrames < 500) assert(next(b, sentB++, 2, 1));
      await new Promise((r) => setTimeout(r, 1));
    }
    assert(await until(() => gotA.length === N && gotB.length === N, 10_000));
    for (let i = 0; i < N; i++) {
      assertEquals(gotB[i], frame({ dst: mac(2), src: mac(1), seq: i, length: 60 + i % 1400 }));
    }
    assertEquals(a.stats().drops, {});
    assertEquals(t.sw.ports().map((p) => p.counters.totalDrops()), [0, 0]);
  } finally {
    await t.cleanup();
  }
});

Deno.test("vde: the ctl stream's EOF ends the port on both sides", async () => {
  const t = await weftSwitch();
  try {
    const a = await t.open();
    assertEquals(t.sw.ports().length, 1);
    t.server.close(); // closes every client's ctl stream
    await within(a.closed, 3000, "client endpoint closed on EOF");
    assertEquals(t.sw.ports().length, 0);
    await t.server.closed;
    assertEquals(await Deno.stat(t.dir).then(() => true, () => false), false, "dir removed");
  } finally {
    await t.cleanup();
  }
});

Deno.test("vde: bad requests are refused and counted; a good client keeps working", async () => {
  const t = await weftSwitch({ requestTimeoutMs: 300 });
  try {
    const good = await t.open();
    const got = collect(good);
    const ctl = `${t.dir}/ctl`;
    // A client socket that exists, so only the named defect refuses the request.
    const clientPath = `${t.dir}/.bad-client`;
    const fd = unixSocket(SOCK_DGRAM);
    assertEquals(bindUnix(fd, clientPath), 0);
    const streamPath = `${t.dir}/.stream-client`; // exists, but a datagram cannot connect to it
    const sfd = unixSocket(SOCK_STREAM);
    assertEquals(bindUnix(sfd, streamPath), 0);
    const req = () => encodeRequest({ path: clientPath, description: "bad" });
    const withWord = (at: number, v: number) => {
      const b = req();
      new DataView(b.buffer).setUint32(at, v, true);
      return b;
    };
    const send = async (bytes: Uint8Array, hold = false) => {
      const c = await Deno.connect({ transport: "unix", path: ctl });
      await c.write(bytes);
      if (!hold) await c.closeWrite();
      // The server closes a refused client: EOF, no reply.
      const buf = new Uint8Array(200);
      const n = await within(c.read(buf).catch(() => null), 3000, "server closes the client");
      c.close();
      return n;
    };
    try {
      assertEquals(await send(withWord(0, 0xdeadbeef)), null);
      assertEquals(await send(withWord(4, 2)), null);
      assertEquals(await send(withWord(4, 9)), null);
      assertEquals(await send(req().subarray(0, 60)), null); // short, then EOF
      assertEquals(await send(new Uint8Array(0), true), null); // never completes the hello
      assertEquals(await send(req().subarray(0, 100), true), null); // half a hello, then silence
      assertEquals(await send(encodeRequest({ path: `${t.dir}/.nobody` })), null);
      assertEquals(await send(encodeRequest({ path: streamPath })), null);
      assertEquals(await send(encodeRequest({ path: clientPath, port: 0 })), null); // no port 0
    } finally {
      closeFd(fd);
      closeFd(sfd);
    }
    assertEquals(t.server.refused, {
      badMagic: 1,
      badVersion: 2,
      short: 1,
      timeout: 2,
      noClientSocket: 1,
      connectFailed: 1,
      attachRefused: 1,
    });
    assertEquals(t.logger.lines.filter((l) => l.startsWith("warn vde: refused")).length, 9);
    // The good client was never disturbed, and new clients still get in.
    const late = await t.open();
    late.send(frame({ dst: BROADCAST, src: mac(9), seq: 9 }));
    assert(await until(() => got.length === 1));
    assertEquals(got[0], frame({ dst: BROADCAST, src: mac(9), seq: 9 }));
    assertEquals(t.sw.ports().length, 2);
  } finally {
    await t.cleanup();
  }
});

Deno.test("vde: server refuses a live directory, replaces a stale ctl", async () => {
  const t = await weftSwitch();
  try {
    await assertRejects(
      () => VdeServer.listen(t.dir, { attach: () => 1 }),
      ConflictError,
      "another switch is serving it",
    );
    // A stale ctl: a socket file nobody listens on (a switch that was killed).
    const stale = `${t.tmp}/stale`;
    await Deno.mkdir(stale, { mode: 0o700 });
    const fd = unixSocket(SOCK_STREAM);
    assertEquals(bindUnix(fd, `${stale}/ctl`), 0);
    closeFd(fd);
    const logger = new MemoryLogger();
    const s2 = await VdeServer.listen(stale, { logger, attach: () => 1 });
    try {
      assert(logger.lines.some((l) => l.includes("removed a stale ctl")));
      const ep = await openVde(stale);
      ep.close();
    } finally {
      s2.close();
      await s2.closed;
    }
    await assertRejects(
      () => VdeServer.listen(`${t.tmp}/${"x".repeat(120)}`, { attach: () => 1 }),
      ConfigError,
      "longer than",
    );
  } finally {
    await t.cleanup();
  }
});

Deno.test("vde: client errors are clear ConfigErrors", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-vde-" });
  try {
    await assertRejects(
      () => openEndpoint(`vde://${tmp}/none`),
      ConfigError,
      `Cannot open endpoint "vde://${tmp}/none": no VDE switch at ${tmp}/none (`,
    );
    await assertRejects(() => openEndpoint(`vde://${tmp}`), ConfigError, "no VDE switch at");
    await assertRejects(() => openEndpoint(`vde://${tmp}?port=x`), ConfigError, "VDE port");
    await assertRejects(() => openEndpoint(`vde://${tmp}?bogus=1`), ConfigError, "bogus");
    // A ctl socket that accepts and never answers.
    await Deno.mkdir(`${tmp}/mute`);
    const mute = Deno.listen({ transport: "unix", path: `${tmp}/mute/ctl` });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of mute) held.push(c);
    })();
    try {
      await assertRejects(
        () => openVde(`${tmp}/mute`, { timeoutMs: 200 }),
        ConfigError,
        "did not answer within 200 ms",
      );
    } finally {
      mute.close();
      await accepting;
      for (const c of held) c.close();
    }
    // A switch that refuses (its attach throws): the client hears EOF instead of a reply.
    const server = await VdeServer.listen(`${tmp}/full`, {
      attach: () => {
        throw new Error("No free port");
      },
    });
    try {
      await assertRejects(() => openVde(`${tmp}/full`), ConfigError, "refused the connection");
      assertEquals(server.refused, { attachRefused: 1 });
    } finally {
      server.close();
      await server.closed;
    }
    // Nothing of ours is left behind in the switch directories.
    assertEquals([...Deno.readDirSync(tmp)].map((e) => e.name).sort(), ["mute"]);
    assertEquals([...Deno.readDirSync(`${tmp}/mute`)].length, 0);
  } finally {
    await poller().idle();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

// ---- real peers ----

const noVdeSwitch = missingRequirements({ root: false, tools: ["vde_switch", "socat"] });

Deno.test({
  name: `vde: weft clients attach to a real vde_switch and exchange frames${
    noVdeSwitch ? ` (ignored: ${noVdeSwitch})` : ""
  }`,
  ignore: noVdeSwitch !== undefined,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "weft-vde-" });
    const sw = await VdeSwitch.start(`${tmp}/sw`);
    const eps: Endpoint[] = [];
    try {
      const a = await openVde(sw.dir, { description: "weft-a" });
      eps.push(a);
      const b = await openEndpoint(`${sw.url}?port=5`);
      eps.push(b);
      const ports = await sw.console("port/print");
      assertMatch(ports, /Port 0005 .*ACTIVE/);
      assertMatch(ports, /weft-a mtu=1500 user=\S+ pid=\d+/);
      const gotA = collect(a);
      const gotB = collect(b);
      const fa = frame({ dst: BROADCAST, src: mac(1), seq: 1, length: 1514 });
      const fb = frame({ dst: mac(1), src: mac(2), seq: 2, length: 60 });
      assert(a.send(fa));
      assert(await until(() => gotB.length === 1));
      assert(b.send(fb));
      assert(await until(() => gotA.length === 1));
      assertEquals(gotB, [fa]);
      assertEquals(gotA, [fb]);
      // A burst of 1000: vde_switch keeps its data sockets' queues short, so this exercises
      // our EAGAIN + POLLOUT path. Every frame must reach the switch (its IN counter for our
      // port); vde_switch itself drops what b's socket cannot take at once (it does not queue),
      // so b sees an in-order subset.
      gotB.length = 0;
      for (let i = 0; i < 1000; i++) {
        assert(a.send(frame({ dst: mac(2), src: mac(1), seq: i, length: 1000 })));
      }
      const inPkts = async () =>
        Number(/IN:\s+pkts\s+(\d+)/.exec(await sw.console("port/print 1"))?.[1] ?? -1);
      for (let i = 0; i < 100 && (await inPkts()) < 1001; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(await inPkts(), 1001);
      assertEquals(a.stats().drops, {});
      assert(gotB.length > 0);
      const seqs = gotB.map((f) => (f[15] - 15) & 0xff);
      for (let i = 1; i < seqs.length; i++) assert(seqs[i] !== seqs[i - 1], "no duplicates");
      // Closing our end frees the switch's port (EOF on its ctl stream).
      b.close();
      for (let i = 0; i < 50 && /Port 0005/.test(await sw.console("port/print")); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert(!/Port 0005 .*ACTIVE/.test(await sw.console("port/print")), "port 5 released");
      // And when the switch goes away, our endpoint closes.
      await sw.stop();
      await within(a.closed, 3000, "endpoint closed when vde_switch stopped");
    } finally {
      for (const ep of eps) ep.close();
      await sw.stop();
      await poller().idle();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});

const noVdePlug = missingRequirements({ root: false, tools: ["vde_plug"] });

Deno.test({
  name: `vde: a real vde_plug (vdeplug4) attaches to the weft server, frames both ways${
    noVdePlug ? ` (ignored: ${noVdePlug})` : ""
  }`,
  ignore: noVdePlug !== undefined,
  async fn() {
    const t = await weftSwitch();
    const plug = spawn(["vde_plug", "-D", "real-plug", `vde://${t.dir}`], {
      stdin: "piped",
      stdout: "raw",
    });
    const reader = plug.stdout!.getReader();
    try {
      assert(await until(() => t.sw.ports().length === 1, 5000), `vde_plug attached\n${plug}`);
      assertMatch(t.sw.port(1)!.description, /^real-plug user=\S+ pid=\d+/);
      const [local, peer] = createPair("obs");
      t.sw.attach(local, { port: 2 });
      const got = collect(peer);
      // stdin → switch: 2-byte big-endian length, then the frame (PROTOCOLS §2).
      const f1 = frame({ dst: BROADCAST, src: mac(0x11), seq: 1, length: 1514 });
      await plug.stdin!.write(new Uint8Array([f1.length >> 8, f1.length & 0xff, ...f1]));
      assert(await until(() => got.length === 1, 5000), "frame from vde_plug reached the switch");
      assertEquals(got[0], f1);
      // switch → stdout: the reverse.
      const f2 = frame({ dst: mac(0x11), src: mac(0x22), seq: 2, length: 100 });
      assert(peer.send(f2));
      const want = new Uint8Array([0, f2.length, ...f2]);
      let out = new Uint8Array(0);
      while (out.length < want.length) {
        const r = await within(reader.read(), 5000, "vde_plug writes the frame to stdout");
        if (r.done) break;
        out = new Uint8Array([...out, ...r.value]);
      }
      assertEquals(out, want);
      // vde_plug ends (stdin EOF): the weft port goes away with its ctl stream.
      await plug.stdin!.close();
      assert(await until(() => t.sw.port(1) === undefined, 5000), "port 1 detached");
      assertEquals(t.server.refused, {});
    } finally {
      reader.releaseLock();
      await plug.stop();
      await t.cleanup();
    }
  },
});
