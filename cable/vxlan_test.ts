import { assert, assertEquals, assertGreater, assertMatch, assertRejects } from "@std/assert";
import { endpointContract, until } from "../tests/_harness/endpoint_contract.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";
import { ManualClock } from "../core/clock.ts";
import { ConfigError } from "../core/errors.ts";
import { MemoryLogger } from "../core/log.ts";
import { openEndpoint } from "./mod.ts";
import { parseEndpointUrl } from "./url.ts";
import { openVxlan, parseVxlanUrl, type VxlanEndpoint, type VxlanOptions } from "./vxlan.ts";
import { encodeVxlan } from "./vxlan_wire.ts";

/**
 * A UDP port free on 127.0.0.1–127.0.0.3 at the moment. VTEPs in one test share it, each bound
 * to its own loopback address: a VTEP addresses learned peers on the VXLAN port, as Linux does.
 */
function freePort(): number {
  for (let i = 0; i < 20; i++) {
    const probe = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    try {
      for (const h of ["127.0.0.2", "127.0.0.3"]) {
        Deno.listenDatagram({ transport: "udp", hostname: h, port }).close();
      }
      return port;
    } catch {
      // taken on another address: try another
    }
  }
  throw new Error("no free UDP port on 127.0.0.1-3");
}

/** VTEPs on 127.0.0.N (N = 1…), all on one port; `peers[i]` is VTEP i's default peer. */
async function vteps(
  peers: number[],
  opts: Partial<VxlanOptions> = {},
): Promise<{ eps: VxlanEndpoint[]; port: number; close(): void }> {
  const port = freePort();
  const eps: VxlanEndpoint[] = [];
  try {
    for (let i = 0; i < peers.length; i++) {
      eps.push(
        await openVxlan({
          remote: `127.0.0.${peers[i] + 1}`,
          port,
          bind: `127.0.0.${i + 1}`,
          vni: 42,
          ...opts,
        }),
      );
    }
  } catch (e) {
    for (const ep of eps) ep.close();
    throw e;
  }
  return { eps, port, close: () => eps.forEach((ep) => ep.close()) };
}

function collect(ep: VxlanEndpoint): Uint8Array[] {
  const got: Uint8Array[] = [];
  ep.setSink((f) => got.push(f.slice()));
  return got;
}

// ---- the shared contract, over loopback (jumbo MTU: loopback carries 64 KiB datagrams) ----

endpointContract("vxlan", async () => {
  const { eps: [a, b], close } = await vteps([1, 0], { mtu: 9000 });
  return { a, b, cleanup: close };
}, { mtu: 9014, closePropagates: false, burst: 100 });

// ---- URL syntax ----

Deno.test("vxlan: URL forms (query, vdeplug4 path options, IPv6, defaults)", () => {
  const p = (text: string) => parseVxlanUrl(parseEndpointUrl(text));
  assertEquals(p("vxlan://10.99.0.1?vni=42"), {
    remote: "10.99.0.1",
    port: undefined,
    localPort: undefined,
    bind: undefined,
    ifname: undefined,
    vni: 42,
    ttl: undefined,
    mtu: undefined,
    ageingMs: undefined,
    learn: undefined,
    tagged: undefined,
    url: "vxlan://10.99.0.1?vni=42",
  });
  const v4 = p("vxlan://239.0.0.1/vni=42/ttl=2/port=8472/expiretime=128");
  assertEquals([v4.remote, v4.vni, v4.ttl, v4.port, v4.ageingMs], [
    "239.0.0.1",
    42,
    2,
    8472,
    128e3,
  ]);
  assertEquals(p("vxlan://").remote, "239.0.0.1");
  assertEquals(p("vxlan:///v6").remote, "ff05:56de::1");
  assertEquals(p("vxlan://239.0.0.1/?vni=7").vni, 7);
  const v6 = p("vxlan://[fd00::1]:4790?bind=[fd00::2]:0&if=eth0&tagged=pass&learn=0");
  assertEquals(
    [v6.remote, v6.port, v6.bind, v6.localPort, v6.ifname, v6.tagged, v6.learn],
    ["fd00::1", 4790, "fd00::2", 0, "eth0", true, false],
  );
  assertEquals(p("vxlan://ff05:56de::1").remote, "ff05:56de::1");
  assertEquals(p("vxlan://10.0.0.1:4789?port=4789&bind=10.0.0.2").bind, "10.0.0.2");
});

Deno.test("vxlan: bad URLs and values are ConfigErrors naming the value", async () => {
  const bad: Array<[string, RegExp]> = [
    ["vxlan://10.0.0.1?vni=16777216", /vxlan vni "16777216"/],
    ["vxlan://10.0.0.1?colour=red", /unknown option "colour"/],
    ["vxlan://10.0.0.1:99999", /VXLAN port "99999"/],
    ["vxlan://10.0.0.1:1?port=2", /two different ports/],
    ["vxlan://vtep.example.org", /not an IPv4 or IPv6 address/],
    ["vxlan://300.0.0.1", /not an IPv4 or IPv6 address/],
    ["vxlan://[fd00::1", /missing "\]"/],
    ["vxlan://10.0.0.1?bind=fd00::2", /not of the same family/],
    ["vxlan://10.0.0.1?mtu=65500", /mtu 65500/],
    ["vxlan://ff05::1?ttl=3", /only ttl=1/],
    ["vxlan://10.0.0.1?learn=maybe", /learn=maybe/],
  ];
  for (const [url, re] of bad) {
    const e = await assertRejects(() => openEndpoint(url), ConfigError);
    assertMatch(e.message, re, url);
    assertMatch(e.message, /^Cannot open endpoint "vxlan:/, url);
  }
});

Deno.test("vxlan: a port already taken is a clear ConfigError", async () => {
  const { eps: [a], port, close } = await vteps([0]);
  try {
    const e = await assertRejects(
      () => openEndpoint(`vxlan://127.0.0.1:${port}?bind=127.0.0.1`),
      ConfigError,
    );
    assertMatch(e.message, new RegExp(`127\\.0\\.0\\.1:${port} is in use`));
    assertEquals(a.isClosed, false);
  } finally {
    close();
  }
});

Deno.test("vxlan: default MTU fits a 1500-byte underlay: 1464-byte frames pass, 1465 do not", async () => {
  const { eps: [a, b], close } = await vteps([1, 0]);
  try {
    assertEquals(a.mtu, 1464);
    const got = collect(b);
    assert(a.send(frame({ dst: mac(2), src: mac(1), length: 1464 })));
    assertEquals(a.send(frame({ dst: mac(2), src: mac(1), length: 1465 })), false);
    assert(await until(() => got.length === 1));
    assertEquals(got[0].length, 1464);
    assertEquals(a.stats().drops, { oversize: 1 });
  } finally {
    close();
  }
});

// ---- malformed input ----

Deno.test("vxlan: malformed datagrams are counted by reason, never thrown; traffic keeps flowing", async () => {
  const { eps: [a, b], port, close } = await vteps([1, 0]);
  const raw = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.3", port: 0 });
  try {
    const got = collect(b);
    const to = { transport: "udp" as const, hostname: "127.0.0.2", port };
    const good = frame({ dst: mac(2), src: mac(9), seq: 1, length: 100 });
    const wrongFlags = encodeVxlan(42, good);
    wrongFlags[0] = 0x0c; // I plus a reserved bit (a VXLAN-GPE P bit)
    const noI = encodeVxlan(42, good);
    noI[0] = 0;
    const tagged = encodeVxlan(42, frame({ dst: mac(2), src: mac(9), vid: 10, length: 100 }));
    const sends: Uint8Array[] = [
      wrongFlags,
      noI,
      encodeVxlan(43, good), // another VNI
      new Uint8Array([8, 0, 0]), // shorter than the header
      encodeVxlan(42, good.subarray(0, 13)), // inner frame shorter than an Ethernet header
      encodeVxlan(42, new Uint8Array(0)), // header only (a vxvde goodbye)
      encodeVxlan(42, frame({ dst: mac(2), src: mac(9), length: 1465 })), // over the MTU
      tagged,
      new Uint8Array(0), // an empty datagram
    ];
    for (let i = 0; i < 50; i++) sends.push(crypto.getRandomValues(new Uint8Array(1 + i * 7)));
    for (const d of sends) await raw.send(d, to);
    await raw.send(encodeVxlan(42, good), to); // a good one after all of that
    assert(await until(() => got.length === 1), `got ${got.length}`);
    assertEquals(got[0], good);
    const drops = b.stats().drops;
    // Random datagrams land in one of the buckets (a random byte is 0x08 with p = 1/256).
    const total = Object.values(drops).reduce((x, y) => x + y, 0);
    assertEquals(total, sends.length, JSON.stringify(drops));
    assertGreater(drops.badHeader, 2);
    assertGreater(drops.wrongVni ?? 0, 0);
    assertGreater(drops.runt, 3);
    assertEquals(drops.oversize, 1);
    assertEquals(drops.innerVlan, 1);
    // Nothing was learned from the bad ones, and the endpoint still works both ways.
    assertEquals(b.fdb().map((e) => e.vtep), [`127.0.0.3:${port}`]);
    const back = collect(a);
    assert(b.send(frame({ dst: mac(1), src: mac(2), length: 60 })));
    assert(await until(() => back.length === 1));
  } finally {
    raw.close();
    close();
  }
});

Deno.test("vxlan: tagged=pass carries 802.1Q-tagged inner frames (RFC 7348 §6.1)", async () => {
  const { eps: [a, b], close } = await vteps([1, 0], { tagged: true });
  try {
    assertEquals(a.mtu, 1468);
    const got = collect(b);
    const f = frame({ dst: mac(2), src: mac(1), vid: 10, length: 1468 });
    assert(a.send(f));
    assert(await until(() => got.length === 1));
    assertEquals(got[0], f);
  } finally {
    close();
  }
});

Deno.test("vxlan: a tagged frame is refused on send unless tagged=pass", async () => {
  const { eps: [a], close } = await vteps([1]);
  try {
    assertEquals(a.send(frame({ dst: mac(2), src: mac(1), vid: 10 })), false);
    assertEquals(a.stats().drops, { innerVlan: 1 });
  } finally {
    close();
  }
});

// ---- learning (RFC 7348 §4.1) ----

Deno.test("vxlan: unicast goes to the learned VTEP, unknown and broadcast to the default, entries age", async () => {
  const clock = new ManualClock(1000);
  // VTEP 0 (127.0.0.1) defaults to VTEP 1; VTEP 2 defaults to VTEP 0.
  const { eps: [a, b, c], port, close } = await vteps([1, 0, 0], { clock, ageingMs: 10_000 });
  try {
    const atB = collect(b);
    const atC = collect(c);
    collect(a);
    // C speaks first: A learns mac(3) → 127.0.0.3.
    assert(c.send(frame({ dst: BROADCAST, src: mac(3), length: 60 })));
    assert(await until(() => a.stats().framesIn === 1));
    assertEquals(a.fdb(), [{ mac: "02:00:00:00:00:03", vtep: `127.0.0.3:${port}`, ageMs: 0 }]);
    // Unicast to mac(3) goes to C, not to the default peer B.
    assert(a.send(frame({ dst: mac(3), src: mac(1), seq: 1, length: 60 })));
    assert(await until(() => atC.length === 1));
    // Broadcast and an unknown MAC go to the default peer.
    assert(a.send(frame({ dst: BROADCAST, src: mac(1), length: 60 })));
    assert(a.send(frame({ dst: mac(77), src: mac(1), length: 60 })));
    assert(await until(() => atB.length === 2));
    // After the ageing time the entry is gone: mac(3) is unknown again and goes to B.
    clock.advance(10_001);
    assertEquals(a.fdb(), []);
    assert(a.send(frame({ dst: mac(3), src: mac(1), length: 60 })));
    assert(await until(() => atB.length === 3));
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(atC.length, 1);
  } finally {
    close();
  }
});

Deno.test("vxlan: a MAC that moves to another VTEP is followed; learn=0 never learns", async () => {
  const { eps: [a, b, c], port, close } = await vteps([1, 0, 0]);
  try {
    collect(a);
    b.send(frame({ dst: BROADCAST, src: mac(5), length: 60 }));
    assert(await until(() => a.stats().framesIn === 1));
    assertEquals(a.fdb()[0].vtep, `127.0.0.2:${port}`);
    c.send(frame({ dst: BROADCAST, src: mac(5), length: 60 }));
    assert(await until(() => a.stats().framesIn === 2));
    assertEquals(a.fdb().map((e) => e.vtep), [`127.0.0.3:${port}`]);
  } finally {
    close();
  }
  const n = await vteps([1, 0], { learn: false });
  try {
    collect(n.eps[0]);
    n.eps[1].send(frame({ dst: BROADCAST, src: mac(5), length: 60 }));
    assert(await until(() => n.eps[0].stats().framesIn === 1));
    assertEquals(n.eps[0].fdb(), []);
  } finally {
    n.close();
  }
});

Deno.test("vxlan: the MAC table is bounded; refusals are counted", async () => {
  const { eps: [a, b], close } = await vteps([1, 0], { macLimit: 4 });
  try {
    collect(a);
    for (let i = 0; i < 10; i++) b.send(frame({ dst: BROADCAST, src: mac(100 + i), length: 60 }));
    assert(await until(() => a.stats().framesIn === 10));
    assertEquals(a.fdb().length, 4);
    assertEquals(a.fdbRefused, 6);
  } finally {
    close();
  }
});

// ---- errors at run time ----

Deno.test("vxlan: a datagram the kernel refuses is counted and logged once, the endpoint stays open", async () => {
  const logger = new MemoryLogger();
  // A socket bound to 127.0.0.1 cannot reach 192.0.2.1 (TEST-NET-1): Linux refuses a loopback
  // source towards a non-local destination with EINVAL, synchronously, in sendmmsg.
  const ep = await openVxlan({ remote: "192.0.2.1", bind: "127.0.0.1", port: freePort(), logger });
  try {
    for (let i = 0; i < 5; i++) assert(ep.send(frame({ dst: BROADCAST, src: mac(1) })));
    assert(await until(() => ep.stats().drops.sendError === 5));
    assertEquals(ep.lastError, "EINVAL");
    assertEquals(logger.lines.length, 1, logger.lines.join("\n"));
    assertMatch(logger.lines[0], /^warn vxlan send failed .*error=EINVAL/);
    assertEquals(ep.isClosed, false);
    assertEquals(ep.queuedFrames, 0);
  } finally {
    ep.close();
  }
});

Deno.test("vxlan: close is prompt with sends in flight and a receive pending", async () => {
  const { eps: [a, b], close } = await vteps([1, 0]);
  try {
    collect(b);
    for (let i = 0; i < 500; i++) a.send(frame({ dst: mac(2), src: mac(1), length: 1000 }));
    a.close();
    b.close();
    await Promise.all([a.closed, b.closed]);
    assertEquals(a.send(frame({ dst: mac(2), src: mac(1) })), false);
    assertEquals(a.stats().drops.sendError, undefined);
  } finally {
    close();
  }
});
