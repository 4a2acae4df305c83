import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { endpointContract, until } from "../tests/_harness/endpoint_contract.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";
import { requireTools } from "../tests/_harness/requirements.ts";
import { CHROMIUM, spawnChromium } from "../tests/_harness/chromium.ts";
import { runOk } from "../tests/_harness/process.ts";
import { spawnWeft } from "../tests/_harness/weft.ts";
import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError } from "../core/errors.ts";
import { MemoryLogger } from "../core/log.ts";
import { type EndpointListener, listenEndpoints, openEndpoint } from "./mod.ts";
import { parseWsUrl, tokenOfProtocol, type WsEndpoint, wsTokenProtocol } from "./ws.ts";

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
  await assertRejects(
    () => listenEndpoints("wss://127.0.0.1:0/weft", ctx),
    ConfigError,
    "?cert=FILE",
  );
  await assertRejects(
    () => listenEndpoints("ws://127.0.0.1:0/weft?mtu=1", ctx),
    ConfigError,
    `unknown option "mtu" (ws takes queue, token-file)`,
  );
  await assertRejects(
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

// ---------------------------------------------------------------------------------------------
// Tokens: `?token-file=` on the listener; subprotocol `weft.token.…` or `Authorization: Bearer`.

/** Tokens of a listener: a plain one and one with characters no subprotocol may hold. */
const RIGHT = "right-token";
const ODD = "spaced tøken, #2/=";

/** A token-file listener on loopback that records every `onRefused` and echoes frames back. */
async function tokenServer(scheme: "ws" | "wss" = "ws", query = "") {
  const dir = await Deno.makeTempDir({ prefix: "weft-ws-token-" });
  const file = `${dir}/tokens`;
  await Deno.writeTextFile(file, `# ws clients\n${RIGHT}\n\n${ODD}\n`);
  const accepted: Endpoint[] = [];
  const refusals: [string, string][] = [];
  const logger = new MemoryLogger();
  let listener: EndpointListener;
  try {
    listener = await listenEndpoints(`${scheme}://127.0.0.1:0/weft?token-file=${file}${query}`, {
      logger,
      accept(ep) {
        ep.setSink((f) => ep.send(f)); // an echo host: send copies the borrowed frame
        accepted.push(ep);
      },
      onRefused: (reason, peer) => refusals.push([reason, peer]),
    });
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  return {
    listener,
    accepted,
    refusals,
    logger,
    dir,
    file,
    async close() {
      for (const ep of accepted) ep.close();
      listener.close();
      await listener.closed;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Send one frame on `ep` and wait for the listener's echo of it. */
async function roundTrip(ep: Endpoint, seq: number): Promise<void> {
  const got: Uint8Array[] = [];
  ep.setSink((f) => got.push(f.slice()));
  const f = frame({ dst: mac(2), src: mac(1), seq, length: 1514 });
  assert(ep.send(f));
  assert(await until(() => got.length === 1), "the frame came back");
  assertEquals(got[0], f);
}

interface RawAnswer {
  status: number;
  headers: Headers;
  /** The client's own address, as the listener sees the peer. */
  peer: string;
}

/** One HTTP/1.1 request over a plain TCP connection: the exact status and headers answered. */
async function rawRequest(url: string, headers: Record<string, string>): Promise<RawAnswer> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    const head = [`GET ${u.pathname} HTTP/1.1`, `Host: ${u.host}`];
    for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
    await conn.write(new TextEncoder().encode(head.join("\r\n") + "\r\n\r\n"));
    let text = "";
    const buf = new Uint8Array(4096);
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const [status, ...lines] = text.split("\r\n\r\n")[0].split("\r\n");
    const out = new Headers();
    for (const l of lines) {
      out.append(l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim());
    }
    const local = conn.localAddr as Deno.NetAddr;
    return { status: Number(status.split(" ")[1]), headers: out, peer: `127.0.0.1:${local.port}` };
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

const UPGRADE = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

Deno.test("ws token: the subprotocol form holds only token characters and decodes back", () => {
  for (const t of [RIGHT, ODD, "", "ü".repeat(100)]) {
    const p = wsTokenProtocol(t);
    // RFC 7230 §3.2.6 tchar, which RFC 6455 §4.1 requires of a subprotocol.
    assertMatch(p, /^weft\.token\.[A-Za-z0-9\-_]*$/);
    assertEquals(tokenOfProtocol(p), t);
  }
  assertEquals(wsTokenProtocol("right-token"), "weft.token.cmlnaHQtdG9rZW4");
  assertEquals(tokenOfProtocol("weft.token.!!"), undefined);
  assertEquals(tokenOfProtocol("weft.token.__8"), undefined, "not UTF-8");
  assertEquals(tokenOfProtocol("weft"), undefined);
});

Deno.test("ws token: weft's client (token or token-file) and a bearer header pass frames both ways", async () => {
  const srv = await tokenServer();
  const eps: Endpoint[] = [];
  let bearer: WebSocket | undefined;
  try {
    const url = srv.listener.url;
    const a = await openEndpoint(`${url}?token=${RIGHT}`) as WsEndpoint;
    eps.push(a);
    assertEquals(a.socket.protocol, "weft", "the token is not echoed back");
    assertEquals(a.url, `${url}?token=…`, "the endpoint's URL does not show the token");
    const odd = new URL(url);
    odd.searchParams.set("token", ODD);
    const b = await openEndpoint(odd.href);
    eps.push(b);
    const tf = await Deno.makeTempFile({ dir: srv.dir });
    await Deno.writeTextFile(tf, `${RIGHT}\n`);
    const c = await openEndpoint(`${url}?token-file=${tf}`);
    eps.push(c);
    assert(await until(() => srv.accepted.length === 3));
    for (const [i, ep] of eps.entries()) await roundTrip(ep, i);
    // Authorization: Bearer, as a non-browser client sends it (Deno's non-standard `headers`).
    bearer = new WebSocket(url, { headers: { authorization: `Bearer ${RIGHT}` } });
    bearer.binaryType = "arraybuffer";
    const ws = bearer;
    await new Promise<void>((ok, fail) => {
      ws.onopen = () => ok();
      ws.onerror = (e) => fail(new Error((e as ErrorEvent).message));
    });
    assertEquals(ws.protocol, "", "no subprotocol offered, none answered");
    const f = frame({ dst: mac(2), src: mac(1), seq: 9, length: 60 });
    const back = new Promise<unknown>((r) => ws.onmessage = (ev) => r(ev.data));
    ws.send(f);
    assertEquals(new Uint8Array((await back) as ArrayBuffer), f);
    assertEquals(srv.listener.accepted, 4);
    assertEquals(srv.listener.refused, {});
    assertEquals(srv.refusals, []);
  } finally {
    for (const ep of eps) ep.close();
    if (bearer) await closeRaw(bearer);
    await srv.close();
  }
});

Deno.test("ws token: no token is 401 noToken, a wrong one badToken, plain GET notWebSocket — each told with the peer", async () => {
  const srv = await tokenServer();
  try {
    const url = srv.listener.url;
    const none = await rawRequest(url, UPGRADE);
    assertEquals(none.status, 401);
    assertEquals(none.headers.get("www-authenticate"), 'Bearer realm="weft"');
    assertEquals(srv.listener.refused, { noToken: 1 });
    assertEquals(srv.refusals, [["noToken", none.peer]]);

    const wrongProto = await rawRequest(url, {
      ...UPGRADE,
      "sec-websocket-protocol": `weft, ${wsTokenProtocol("wrong")}`,
    });
    const wrongBearer = await rawRequest(url, { ...UPGRADE, authorization: "Bearer wrong" });
    const junk = await rawRequest(url, { ...UPGRADE, "sec-websocket-protocol": "weft.token.!!" });
    assertEquals([wrongProto.status, wrongBearer.status, junk.status], [401, 401, 401]);
    const plain = await rawRequest(url, {});
    assertEquals(plain.status, 426);
    assertEquals(srv.listener.refused, { noToken: 1, badToken: 3, notWebSocket: 1 });
    assertEquals(srv.refusals, [
      ["noToken", none.peer],
      ["badToken", wrongProto.peer],
      ["badToken", wrongBearer.peer],
      ["badToken", junk.peer],
      ["notWebSocket", plain.peer],
    ]);

    // weft's own client: the 401 is a clear error at open, naming the URL but not the token.
    const e1 = await assertRejects(() => openEndpoint(url), ConfigError);
    assertEquals(
      e1.message,
      `Cannot open endpoint "${url}": the server requires a token (HTTP 401): ` +
        `add ?token=TEXT or ?token-file=PATH`,
    );
    const e2 = await assertRejects(() => openEndpoint(`${url}?token=s3cret`), ConfigError);
    assertEquals(
      e2.message,
      `Cannot open endpoint "${url}?token=…": the server refused the token (HTTP 401)`,
    );
    assertEquals(srv.listener.refused, { noToken: 2, badToken: 4, notWebSocket: 1 });
    assertEquals(srv.accepted.length, 0);
    const log = srv.logger.lines.join("\n");
    assertMatch(log, /ws client refused.*reason=badToken/);
    for (const secret of ["s3cret", "wrong", wsTokenProtocol("wrong"), RIGHT]) {
      assert(!log.includes(secret), `the log does not hold ${secret}`);
    }
  } finally {
    await srv.close();
  }
});

Deno.test("ws token: the answer names `weft` when offered, else the token's subprotocol", async () => {
  const srv = await tokenServer();
  try {
    const url = srv.listener.url;
    const token = wsTokenProtocol(ODD);
    const both = await rawRequest(url, { ...UPGRADE, "sec-websocket-protocol": `weft, ${token}` });
    assertEquals(both.status, 101);
    assertEquals(both.headers.get("sec-websocket-protocol"), "weft");
    const only = await rawRequest(url, { ...UPGRADE, "sec-websocket-protocol": token });
    assertEquals(only.status, 101);
    assertEquals(only.headers.get("sec-websocket-protocol"), token);
    const hdr = await rawRequest(url, { ...UPGRADE, authorization: `bearer  ${RIGHT}` });
    assertEquals(hdr.status, 101);
    assertEquals(hdr.headers.get("sec-websocket-protocol"), null);
    // A proxy's own Authorization does not hide a valid token in the subprotocol.
    const proxied = await rawRequest(url, {
      ...UPGRADE,
      authorization: "Basic cHJveHk6cHc=",
      "sec-websocket-protocol": token,
    });
    assertEquals(proxied.status, 101);
    assertEquals(srv.listener.refused, {});
  } finally {
    await srv.close();
  }
});

Deno.test("ws token: without token-file anyone is admitted, and an offered token still gets its answer", async () => {
  const srv = await wsServer();
  try {
    const a = await openEndpoint(`${srv.listener.url}?token=anything`) as WsEndpoint;
    assertEquals(a.socket.protocol, "weft");
    a.close();
    assertEquals(srv.listener.refused, {});
  } finally {
    await srv.close();
  }
});

Deno.test("ws token: bad token files are config errors", async () => {
  const ctx = { logger: new MemoryLogger(), accept() {} };
  const dir = await Deno.makeTempDir({ prefix: "weft-ws-token-" });
  try {
    await Deno.writeTextFile(`${dir}/empty`, "# nothing\n\n");
    await assertRejects(
      () => listenEndpoints(`ws://127.0.0.1:0/weft?token-file=${dir}/empty`, ctx),
      ConfigError,
      "holds no token",
    );
    await assertRejects(
      () => listenEndpoints(`ws://127.0.0.1:0/weft?token-file=${dir}/missing`, ctx),
      ConfigError,
      `Cannot read token file "${dir}/missing"`,
    );
    await assertRejects(
      () => openEndpoint(`ws://127.0.0.1:1/weft?token-file=${dir}/empty`),
      ConfigError,
      "holds no token",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

if (openssl.ignore) {
  Deno.test({ name: openssl.name("wss token: right and wrong tokens"), ignore: true, fn() {} });
} else {
  Deno.test("wss token: the right token passes frames over TLS, a wrong one is badToken", async () => {
    const tls = await selfSignedCert();
    const srv = await tokenServer("wss", `&cert=${tls.cert}&key=${tls.key}`);
    try {
      const url = srv.listener.url;
      const a = await openEndpoint(`${url}?ca=${tls.cert}&token=${RIGHT}`);
      try {
        assert(await until(() => srv.accepted.length === 1));
        await roundTrip(a, 1);
      } finally {
        a.close();
      }
      await assertRejects(
        () => openEndpoint(`${url}?ca=${tls.cert}&token=wrong`),
        ConfigError,
        // Deno's client speaks HTTP/2 to a TLS Deno server (RFC 8441) and loses the status.
        "the server refused the WebSocket (over HTTP/2 Deno does not say why: a wrong path, " +
          "or a wrong token)",
      );
      assertEquals(srv.listener.refused, { badToken: 1 });
      assertEquals(srv.refusals.map(([r]) => r), ["badToken"]);
    } finally {
      await srv.close();
      await Deno.remove(tls.dir, { recursive: true });
    }
  });
}

/**
 * A real browser: headless Chromium loads a page (served here on loopback) whose script opens
 * WebSockets to a token-file listener. Browsers cannot set headers, so the token travels as a
 * subprotocol, and Chromium fails a connection whose answer names none of the offered ones
 * (WHATWG Fetch, "establish a WebSocket connection"): this shows the listener's answer is what a browser needs, for both ways of
 * offering the token, and that a wrong token does not open.
 */
const BROWSER_PAGE = (url: string, good: string, bad: string, f: number[]) =>
  `<!doctype html>
<script>
function attempt(protocols) {
  return new Promise((resolve) => {
    const ws = new WebSocket(${JSON.stringify(url)}, protocols);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(new Uint8Array(${JSON.stringify(f)}));
    ws.onmessage = (ev) => {
      resolve({ opened: true, protocol: ws.protocol, echo: Array.from(new Uint8Array(ev.data)) });
      ws.close();
    };
    ws.onclose = (ev) => resolve({ opened: false, code: ev.code });
  });
}
(async () => {
  const results = [];
  for (const p of [["weft", ${JSON.stringify(good)}], [${JSON.stringify(good)}],
    ["weft", ${JSON.stringify(bad)}]]) results.push(await attempt(p));
  await fetch("/result", { method: "POST", body: JSON.stringify(results) });
})();
</script>`;

const browser = requireTools([CHROMIUM]);

Deno.test({
  name: browser.name("ws token: Chromium offers the token as a subprotocol and accepts the answer"),
  ignore: browser.ignore,
  async fn() {
    const srv = await tokenServer();
    const profile = await Deno.makeTempDir({ prefix: "weft-ws-chromium-" });
    const f = frame({ dst: mac(2), src: mac(1), seq: 7, length: 100 });
    let report: (v: unknown) => void = () => {};
    const reported = new Promise<unknown>((r) => report = r);
    const page = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      if (req.method === "POST") {
        report(await req.json());
        return new Response("ok");
      }
      const html = BROWSER_PAGE(srv.listener.url, wsTokenProtocol(ODD), wsTokenProtocol("no"), [
        ...f,
      ]);
      return new Response(html, { headers: { "content-type": "text/html" } });
    });
    const chromium = spawnChromium(profile, [`http://127.0.0.1:${page.addr.port}/`]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const results = await Promise.race([
        reported,
        new Promise((_, fail) => {
          timer = setTimeout(() => fail(new Error(`no result: ${chromium.errors}`)), 45_000);
        }),
      ]);
      const echo = Array.from(f);
      assertEquals(results, [
        { opened: true, protocol: "weft", echo },
        { opened: true, protocol: wsTokenProtocol(ODD), echo },
        { opened: false, code: 1006 },
      ]);
      assertEquals(srv.listener.refused, { badToken: 1 });
      assertEquals(srv.listener.accepted, 2);
    } finally {
      clearTimeout(timer);
      await chromium.stop();
      await page.shutdown();
      await srv.close();
      await Deno.remove(profile, { recursive: true });
    }
  },
});
