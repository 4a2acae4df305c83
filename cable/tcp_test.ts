import { assert, assertEquals, assertGreater, assertRejects } from "@std/assert";
import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError } from "../core/errors.ts";
import { MemoryLogger } from "../core/log.ts";
import { endpointContract, until } from "../tests/_harness/endpoint_contract.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";
import { loadOrCreateIdentity } from "./identity.ts";
import type { EndpointListener } from "./listener.ts";
import { listenEndpoints, openEndpoint } from "./mod.ts";
import type { ReconnectingEndpoint } from "./reconnect.ts";

interface Server {
  dir: string;
  listener: EndpointListener;
  accepted: Endpoint[];
  logger: MemoryLogger;
  fp: string;
  tokenFile: string;
  cleanup(): Promise<void>;
}

/** A cable listener on loopback that collects the endpoints it accepts. */
async function server(scheme: "tcp" | "tls", port = 0): Promise<Server> {
  const dir = await Deno.makeTempDir({ prefix: "weft-tcp-" });
  const tokenFile = `${dir}/tokens`;
  await Deno.writeTextFile(tokenFile, "# tokens\nsecret-one\nsecret-two\n");
  const logger = new MemoryLogger();
  const accepted: Endpoint[] = [];
  const listener = await listenEndpoints(
    `${scheme}://127.0.0.1:${port}?token-file=${tokenFile}`,
    { logger, stateDir: `${dir}/state`, accept: (ep) => void accepted.push(ep) },
  );
  const fp = (await loadOrCreateIdentity(`${dir}/state`)).fingerprint;
  return {
    dir,
    listener,
    accepted,
    logger,
    fp,
    tokenFile,
    async cleanup() {
      listener.close();
      for (const ep of accepted) ep.close();
      await listener.closed;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Whether the peer closes `c` within `ms` (reading and discarding whatever it sends first). */
async function closedByPeer(c: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(4096);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      c.read(buf).catch(() => null),
      new Promise<"late">((res) => (timer = setTimeout(() => res("late"), end - Date.now()))),
    ]);
    clearTimeout(timer);
    if (r === null) return true;
    if (r === "late") return false;
  }
  return false;
}

function clientUrl(s: Server, extra = "token=secret-two"): string {
  const u = s.listener.url;
  return u.startsWith("tls:") ? `${u}?fp=${s.fp}&${extra}` : `${u}?${extra}`;
}

for (const scheme of ["tcp", "tls"] as const) {
  endpointContract(scheme, async () => {
    const s = await server(scheme);
    const a = await openEndpoint(clientUrl(s), { logger: new MemoryLogger() });
    assert(await until(() => s.accepted.length === 1));
    return {
      a,
      b: s.accepted[0],
      async cleanup() {
        a.close();
        await s.cleanup();
      },
    };
  }, { mtu: MAX_FRAME, closePropagates: false });
}

Deno.test("tls: a wrong pin, a wrong token and no token are refused; refusals are counted", async () => {
  const s = await server("tls");
  try {
    const ctx = { logger: new MemoryLogger() };
    const wrongPin = `${s.listener.url}?fp=sha256:${"ab".repeat(32)}&token=secret-one`;
    await assertRejects(
      () => openEndpoint(wrongPin, ctx),
      ConfigError,
      "does not match the pinned",
    );
    await assertRejects(
      () => openEndpoint(clientUrl(s, "token=nope"), ctx),
      ConfigError,
      "the server refused: authentication failed",
    );
    await assertRejects(
      () => openEndpoint(`${s.listener.url}?fp=${s.fp}`, ctx),
      ConfigError,
      "the server refused",
    );
    await assertRejects(
      () => openEndpoint(`${s.listener.url}?token=x`, ctx),
      ConfigError,
      "tls needs the server's pin",
    );
    assert(await until(() => (s.listener.refused.badToken ?? 0) === 1));
    assertEquals(s.listener.refused.noToken, 1);
    assertEquals(s.accepted.length, 0, "no endpoint reached the switch");
  } finally {
    await s.cleanup();
  }
});

Deno.test("tls: junk on the listener is closed and counted while a cable keeps carrying frames", async () => {
  const s = await server("tls");
  const good = await openEndpoint(clientUrl(s), { logger: new MemoryLogger() });
  try {
    assert(await until(() => s.accepted.length === 1));
    const got: number[] = [];
    s.accepted[0].setSink((f) => got.push(f[14]));
    const port = Number(s.listener.url.split(":").pop());
    // Random bytes, a plain HTTP request, and a TLS client that never says hello.
    const junk = await Deno.connect({ hostname: "127.0.0.1", port });
    await junk.write(crypto.getRandomValues(new Uint8Array(512)));
    const http = await Deno.connect({ hostname: "127.0.0.1", port });
    await http.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const mute = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [] }).catch(
      () => undefined,
    );
    const silent = await Deno.connect({ hostname: "127.0.0.1", port }); // nothing at all
    let seq = 0;
    const t0 = Date.now();
    // Keep frames flowing on the good cable for the whole handshake timeout (5 s).
    while (Date.now() - t0 < 6500) {
      good.send(frame({ dst: BROADCAST, src: mac(1), seq: seq++ }));
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(await until(() => got.length === seq), `the good cable carried ${got.length}/${seq}`);
    const refused = s.listener.refused;
    const total = Object.values(refused).reduce((a, b) => a + b, 0);
    assert(total >= 3, `refusals counted: ${JSON.stringify(refused)}`);
    assertGreater(
      refused.timeout ?? 0,
      0,
      `the silent client timed out: ${JSON.stringify(refused)}`,
    );
    for (const [name, c] of [["junk", junk], ["http", http], ["silent", silent]] as const) {
      assert(await closedByPeer(c, 3000), `the server closed the ${name} connection`);
      c.close();
    }
    mute?.close();
  } finally {
    good.close();
    await s.cleanup();
  }
});

Deno.test("tcp: a cable reconnects after its server returns; drops while down are counted", async () => {
  let s = await server("tcp");
  const port = Number(s.listener.url.split(":").pop());
  const logger = new MemoryLogger();
  const client = await openEndpoint(clientUrl(s), { logger }) as ReconnectingEndpoint;
  const links: boolean[] = [];
  client.setLinkListener((up) => links.push(up));
  try {
    assert(await until(() => s.accepted.length === 1));
    // The server goes away: its listener and its side of the cable.
    await s.cleanup();
    assert(await until(() => !client.up, 5000), "the client noticed");
    assertEquals(links, [false]);
    assertEquals(client.send(frame({ dst: BROADCAST, src: mac(1) })), false);
    assertEquals(client.stats().drops.down, 1);
    s = await server("tcp", port);
    assert(await until(() => client.up, 10_000), "reconnected");
    assertEquals(links, [false, true]);
    const got: Uint8Array[] = [];
    assert(await until(() => s.accepted.length === 1));
    s.accepted[0].setSink((f) => got.push(f.slice()));
    const f = frame({ dst: BROADCAST, src: mac(1), seq: 9 });
    assert(client.send(f));
    assert(await until(() => got.length === 1));
    assertEquals(got, [f]);
  } finally {
    client.close();
    await s.cleanup();
  }
});

Deno.test("tcp: a peer that stops answering is given up after three keepalive intervals", async () => {
  // A raw listener that completes the handshake and then goes silent (no keepalives).
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const c of l) {
      conns.push(c);
      const buf = new Uint8Array(4096);
      await c.read(buf);
      const { encodeRecord, WELCOME } = await import("./weft_wire.ts");
      await c.write(encodeRecord(WELCOME, { node: "mute", mtu: 1500 }));
    }
  })();
  const client = await openEndpoint(`tcp://127.0.0.1:${port}?keepalive=1`, {
    logger: new MemoryLogger(),
  }) as ReconnectingEndpoint;
  try {
    assert(client.up);
    const t0 = Date.now();
    assert(await until(() => !client.up, 6000), "given up");
    const took = Date.now() - t0;
    assert(took >= 2500 && took < 5000, `after ${took} ms`);
  } finally {
    client.close();
    l.close();
    for (const c of conns) c.close();
  }
});

Deno.test("tcp ?framing=qemu: 4-byte lengths, no hello (QEMU -netdev stream over TCP)", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const accepted = l.accept();
  const ep = await openEndpoint(`tcp://127.0.0.1:${port}?framing=qemu`, {
    logger: new MemoryLogger(),
  });
  const peer = await accepted;
  try {
    const got: Uint8Array[] = [];
    ep.setSink((f) => got.push(f.slice()));
    const f = frame({ dst: BROADCAST, src: mac(3), length: 300, seq: 4 });
    await peer.write(new Uint8Array([0, 0, 1, 44, ...f]));
    assert(await until(() => got.length === 1));
    assertEquals(got, [f]);
    assert(ep.send(f));
    const buf = new Uint8Array(304);
    let n = 0;
    while (n < 304) n += (await peer.read(buf.subarray(n))) ?? 304;
    assertEquals(buf, new Uint8Array([0, 0, 1, 44, ...f]));
    await assertRejects(
      () => openEndpoint(`tls://127.0.0.1:${port}?framing=qemu`, { logger: new MemoryLogger() }),
      ConfigError,
      "framing=qemu is for tcp:// only",
    );
  } finally {
    ep.close();
    peer.close();
    l.close();
  }
});
