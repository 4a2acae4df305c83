import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { endpointContract, until } from "../tests/_harness/endpoint_contract.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";
import { requireTools } from "../tests/_harness/requirements.ts";
import { runOk } from "../tests/_harness/process.ts";
import { spawnWeft } from "../tests/_harness/weft.ts";
import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError } from "../core/errors.ts";
import { MemoryLogger } from "../core/log.ts";
import { type EndpointListener, listenEndpoints, openEndpoint } from "./mod.ts";
import { parseWsUrl, type WsEndpoint } from "./ws.ts";

/** A listener on a free loopback port, the endpoints it accepted, and a cleanup. */
async function wsServer(url = "ws://127.0.0.1:0/weft") {
  const accepted: Endpoint[] = [];
  const logger = new MemoryLogger();
  const listener = await listenEndpoints(url, { logger, accept: (ep) => accepted.push(ep) });
  return {
    listener,
    accepted,
    logger,
    async close() {
      for (const ep of accepted) ep.close();
      listener.close();
      await listener.closed;
    },
  };
}

/** A client endpoint (`a`) and the listener's endpoint for it (`b`) over real loopback TCP. */
async function wsLink(scheme: "ws" | "wss" = "ws") {
  const tls = scheme === "wss" ? await selfSignedCert() : undefined;
  const removeCert = () => tls && Deno.remove(tls.dir, { recursive: true });
  let srv: Awaited<ReturnType<typeof wsServer>> | undefined;
  let a: Endpoint;
  try {
    srv = await wsServer(
      tls ? `wss://127.0.0.1:0/weft?cert=${tls.cert}&key=${tls.key}` : undefined,
    );
    a = await openEndpoint(tls ? `${srv.listener.url}?ca=${tls.cert}` : srv.listener.url);
    const accepted = srv.accepted;
    assert(await until(() => accepted.length === 1), "the listener accepted the client");
  } catch (e) {
    await srv?.close();
    await removeCert();
    throw e;
  }
  const server = srv;
  return {
    a,
    b: server.accepted[0],
    cleanup: async () => {
      a.close();
      await a.closed;
      await server.close();
      await removeCert();
    },
  };
}

/**
 * A self-signed certificate for 127.0.0.1 made by openssl (an end-entity certificate, CA:FALSE,
 * which the client trusts directly with `?ca=`).
 */
async function selfSignedCert(): Promise<{ dir: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "weft-wss-" });
  const cert = `${dir}/cert.pem`, key = `${dir}/key.pem`;
  await runOk([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-addext",
    "basicConstraints=critical,CA:FALSE",
  ], { timeoutMs: 15_000 });
  return { dir, cert, key };
}

endpointContract("ws", () => wsLink("ws"), { mtu: MAX_FRAME, closePropagates: true });

const openssl = requireTools(["openssl"]);
if (openssl.ignore) {
  Deno.test({ name: openssl.name("wss: contract"), ignore: true, fn() {} });
} else {
  endpointContract("wss", () => wsLink("wss"), { mtu: MAX_FRAME, closePropagates: true });
}

/** Open a plain WebSocket (the browser's API, as Deno implements it) and wait for `open`. */
async function rawClient(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`WebSocket ${url}: ${(e as ErrorEvent).message}`));
  });
  return ws;
}

async function closeRaw(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = new Promise((r) => ws.addEventListener("close", r));
  ws.close();
  await closed;
}

Deno.test("ws: text messages and bad sizes are counted and dropped, the connection stays", async () => {
  const srv = await wsServer();
  const ws = await rawClient(srv.listener.url);
  try {
    assert(await until(() => srv.accepted.length === 1));
    const ep = srv.accepted[0];
    const got: Uint8Array[] = [];
    ep.setSink((f) => got.push(f.slice()));
    const good = frame({ dst: mac(2), src: mac(1), length: 100 });
    ws.send("hello");
    ws.send(new Uint8Array(13));
    ws.send(new Uint8Array(0));
    ws.send(new Uint8Array(MAX_FRAME + 1));
    ws.send(good);
    assert(await until(() => got.length === 1));
    assertEquals(got[0], good);
    assertEquals(ep.stats().drops, { text: 1, runt: 2, oversize: 1 });
    assertEquals(ep.stats().framesIn, 1);
    // And back: one binary message per frame, exactly the frame.
    const back = new Promise<unknown>((r) => ws.onmessage = (ev) => r(ev.data));
    assert(ep.send(good));
    const data = await back;
    assert(data instanceof ArrayBuffer);
    assertEquals(new Uint8Array(data), good);
  } finally {
    await closeRaw(ws);
    await srv.close();
  }
});

Deno.test("ws: the listener answers 404 off its path and 426 to plain HTTP on it", async () => {
  const srv = await wsServer();
  try {
    const base = srv.listener.url.replace(/^ws:/, "http:");
    const other = await fetch(base.replace(/\/weft$/, "/other"));
    assertEquals(other.status, 404);
    await other.body?.cancel();
    const plain = await fetch(base);
    assertEquals(plain.status, 426);
    assertEquals(plain.headers.get("upgrade"), "websocket");
    await plain.body?.cancel();
    assertEquals(srv.listener.refused, { notWebSocket: 1 });
    // A WebSocket to another path is refused by the handshake, not accepted as a port.
    await assertRejects(() => rawClient(base.replace(/^http:/, "ws:") + "x"));
    assertEquals(srv.accepted.length, 0);
  } finally {
    await srv.close();
  }
});

Deno.test("ws: a refused client is closed and counted", async () => {
  const logger = new MemoryLogger();
  const listener: EndpointListener = await listenEndpoints("ws://127.0.0.1:0/", {
    logger,
    accept() {
      throw new Error("no free port");
    },
  });
  try {
    const ws = await rawClient(listener.url);
    await new Promise((r) => ws.addEventListener("close", r));
    assertEquals(listener.refused, { attachRefused: 1 });
    assertMatch(logger.lines.join("\n"), /ws client refused.*no free port/);
  } finally {
    listener.close();
    await listener.closed;
  }
});

Deno.test("ws: clear errors for bad URLs, refused connections, wss without a certificate", async () => {
  const ctx = { logger: new MemoryLogger(), accept() {} };
  await assertRejects(
    () => openEndpoint("ws://127.0.0.1:1/weft"),
    ConfigError,
    `Cannot open endpoint "ws://127.0.0.1:1/weft"`,
  );
  assertThrows(() => listenEndpoints("wss://127.0.0.1:0/weft", ctx), ConfigError, "?cert=FILE");
  assertThrows(
    () => listenEndpoints("ws://127.0.0.1:0/weft?mtu=1", ctx),
    ConfigError,
    `unknown option "mtu"`,
  );
  assertThrows(
    () => listenEndpoints("wss://127.0.0.1:0/?cert=/nonexistent&key=/nonexistent", ctx),
    ConfigError,
    "cannot read the certificate /nonexistent",
  );
  await assertRejects(() => openEndpoint("ws://127.0.0.1:1/?ca=x"), ConfigError, "needs wss");
  assertThrows(() => parseWsUrl("ws://"), ConfigError);
  assertEquals(parseWsUrl("ws://[::1]:8080/a/b?x=1&queue=5", ["queue"]), {
    secure: false,
    hostname: "::1",
    port: 8080,
    path: "/a/b",
    search: "?x=1",
  });
  assertEquals(parseWsUrl("wss://example.net").port, 443);
});

Deno.test("ws: send never throws, drops while the peer's queue is full", async () => {
  const l = await wsLink();
  try {
    const a = l.a as WsEndpoint;
    const f = frame({ dst: mac(2), src: mac(1), length: 1500 });
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) if (a.send(f)) accepted++;
    assert(accepted < 10_000, "the queue limit bounds what is accepted");
    assert(accepted * 1500 <= a.maxQueued);
    assertEquals(a.stats().drops.queueFull, 10_000 - accepted);
    // The queue drains and sending works again.
    const got: number[] = [];
    l.b.setSink((x) => got.push(x.length));
    assert(await until(() => got.length === accepted, 10_000), `${got.length} of ${accepted}`);
    assert(await until(() => a.socket.bufferedAmount === 0));
    assert(a.send(f));
  } finally {
    await l.cleanup();
  }
});

// ---------------------------------------------------------------------------------------------
// Acceptance: WebSocket clients exchange frames through a `weft switch --listen ws://…`.

Deno.test("ws: two WebSocket clients exchange frames through weft switch --listen ws://", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-ws-" });
  const sw = spawnWeft(["switch", "--sock", `${dir}/sw`, "--listen", "ws://127.0.0.1:0/weft"]);
  const clients: WebSocket[] = [];
  try {
    const m = await sw.waitForOutput(/listening url=(ws:\/\/127\.0\.0\.1:\d+\/weft)/, 30_000);
    const url = m[1];
    const inbox: Uint8Array[][] = [[], []];
    for (let i = 0; i < 2; i++) {
      const ws = await rawClient(url);
      ws.onmessage = (ev) => {
        if (ev.data instanceof ArrayBuffer) inbox[i].push(new Uint8Array(ev.data));
      };
      clients.push(ws);
    }
    await sw.waitForOutput(/port up port=\d+ endpoint="ws client 2 from 127\.0\.0\.1:/);
    const [a, b] = clients;
    // A broadcasts: B receives it (the switch floods), A does not get its own frame back.
    const hello = frame({ dst: BROADCAST, src: mac(0xa), seq: 1, length: 60 });
    a.send(hello);
    assert(await until(() => inbox[1].length === 1), "B got A's broadcast");
    assertEquals(inbox[1][0], hello);
    // B answers A by unicast (the switch learned A's MAC from the broadcast); junk is ignored.
    b.send("not a frame");
    b.send(new Uint8Array(5));
    const replies = [];
    for (let i = 0; i < 100; i++) {
      const f = frame({ dst: mac(0xa), src: mac(0xb), seq: i, length: 64 + i * 14 });
      replies.push(f);
      b.send(f);
    }
    assert(await until(() => inbox[0].length === 100), `A got ${inbox[0].length} of 100`);
    assertEquals(inbox[0], replies);
    // A now reaches B by unicast too; large frames pass whole.
    const big = frame({ dst: mac(0xb), src: mac(0xa), seq: 9, length: 9000 });
    a.send(big);
    assert(await until(() => inbox[1].length === 2));
    assertEquals(inbox[1][1], big);
    assertEquals(inbox[0].length, 100, "nothing else reached A");
    assertEquals(sw.exitStatus, undefined, "the switch is still running");
  } finally {
    for (const ws of clients) await closeRaw(ws);
    await sw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * An independent WebSocket implementation as the peer: Python's `websockets` (Debian
 * python3-websockets, run by Debian's /usr/bin/python3, not whatever python3 is first on PATH).
 * It sends its frame as a fragmented message (RFC 6455 §5.4: three frames, one message), which
 * must still arrive as one Ethernet frame.
 */
const PY_WS_CLIENT = `
import asyncio, sys, websockets
async def main(url, hexframe):
    frame = bytes.fromhex(hexframe)
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send([frame[:10], frame[10:30], frame[30:]])
        reply = await asyncio.wait_for(ws.recv(), 10)
        print("binary" if isinstance(reply, bytes) else "text", reply.hex())
asyncio.run(main(sys.argv[1], sys.argv[2]))
`;
const PYTHON = "/usr/bin/python3";

function pythonHasWebsockets(): boolean {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import websockets"], stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const pyWs = pythonHasWebsockets()
  ? { ignore: false, name: (n: string) => n }
  : { ignore: true, name: (n: string) => `${n} [ignored: needs ${PYTHON} with websockets]` };

Deno.test({
  name: pyWs.name("ws: Python websockets ⇄ weft switch --listen ws:// ⇄ Deno WebSocket"),
  ignore: pyWs.ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "weft-ws-" });
    const sw = spawnWeft(["switch", "--sock", `${dir}/sw`, "--listen", "ws://127.0.0.1:0/weft"]);
    let deno: WebSocket | undefined;
    try {
      const m = await sw.waitForOutput(/listening url=(ws:\/\/127\.0\.0\.1:\d+\/weft)/, 30_000);
      const url = m[1];
      deno = await rawClient(url);
      const reply = frame({ dst: mac(0xa), src: mac(0xb), seq: 3, length: 1514 });
      const got: Uint8Array[] = [];
      const ws = deno;
      ws.onmessage = (ev) => {
        if (!(ev.data instanceof ArrayBuffer)) return;
        got.push(new Uint8Array(ev.data));
        ws.send(reply); // answer the Python client by unicast
      };
      await sw.waitForOutput(/port up port=\d+ endpoint="ws client 1 /);
      const hello = frame({ dst: BROADCAST, src: mac(0xa), seq: 1, length: 200 });
      const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
      const out = await runOk([PYTHON, "-c", PY_WS_CLIENT, url, hex(hello)], {
        timeoutMs: 20_000,
      });
      assertEquals(got, [hello], "the fragmented message arrived as one frame");
      assertEquals(out.trim(), `binary ${hex(reply)}`);
    } finally {
      if (deno) await closeRaw(deno);
      await sw.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
