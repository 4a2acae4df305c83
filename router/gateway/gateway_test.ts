import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { createPair } from "../../cable/pair.ts";
import type { Endpoint } from "../../core/endpoint.ts";
import { ConfigError, ConflictError } from "../../core/errors.ts";
import { format_addr, parse_addr, parse_cidr } from "../../stack/addr.ts";
import { DNS_RCODE_NXDOMAIN, DNS_TYPE_AAAA, emit_dns_query } from "../../stack/wire/mod.ts";
import { Stack } from "../../stack/stack.ts";
import { connect, listenDatagram } from "../../stack/socket/mod.ts";
import { Gateway } from "./gateway.ts";
import { parseForward, validateGateway } from "./config.ts";

const sanitize = { sanitizeOps: false, sanitizeResources: false };

async function lan(extra: Partial<Parameters<typeof Gateway.start>[0]> = {}) {
  const [a, b] = createPair("gw", 1514);
  const gw = await Gateway.start({ endpoint: a, cidr: "10.0.2.0/24", ...extra });
  const guest = new Stack({
    endpoint: b,
    ipv4: parse_cidr("10.0.2.15/24")!,
    gateways: [parse_addr("10.0.2.2")!],
  });
  return { gw, guest };
}

async function readAll(c: { read(p: Uint8Array): Promise<number | null> }): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await c.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

Deno.test("gateway config: ranges, addresses and forwards are checked", () => {
  const base = { cidr: "10.0.2.0/24" };
  assertEquals(validateGateway(base).gateway, parse_addr("10.0.2.2"));
  const bad: Array<[object, RegExp]> = [
    [{ cidr: "10.0.2.0/31" }, /cidr "10.0.2.0\/31"/],
    [{ cidr: "fd00::/64" }, /cidr/],
    [{ ...base, gatewayAddr: "10.0.3.2" }, /gateway address "10.0.3.2".*inside 10.0.2.0\/24/],
    [
      { ...base, dhcp: { start: "10.0.2.1", end: "10.0.2.50" } },
      /overlaps the gateway's own address 10.0.2.2/,
    ],
    [{ ...base, dhcp: { start: "10.0.2.15", end: "10.0.3.5" } }, /DHCP range end "10.0.3.5"/],
    [{ ...base, dhcp: { start: "10.0.2.50", end: "10.0.2.15" } }, /start is after the end/],
    [{
      ...base,
      dhcp: {
        start: "10.0.2.15",
        end: "10.0.2.20",
        reservations: [{ mac: "zz", addr: "10.0.2.30" }],
      },
    }, /MAC "zz"/],
    [{ ...base, ip6: "fd00::/48" }, /IPv6 prefix "fd00::\/48"/],
    [{
      ...base,
      forwards: [{
        proto: "tcp",
        hostAddr: "127.0.0.1",
        hostPort: 80,
        guestAddr: "192.168.1.5",
        guestPort: 80,
      }],
    }, /guest address "192.168.1.5" is not inside/],
  ];
  for (const [o, re] of bad) {
    const e = assertThrows(() => validateGateway(o as typeof base), ConfigError);
    assert(re.test(e.message), e.message);
  }
  assertEquals(parseForward("udp:[::1]:5353:[fd00:2::15]:53"), {
    proto: "udp",
    hostAddr: "::1",
    hostPort: 5353,
    guestAddr: "fd00:2::15",
    guestPort: 53,
  });
  for (
    const t of [
      "tcp:1.2.3.4:80:10.0.2.15",
      "icmp:1.2.3.4:1:10.0.2.15:1",
      "tcp:1.2.3.4:99999:10.0.2.15:80",
      "tcp:host:80:10.0.2.15:80",
    ]
  ) {
    assertThrows(() => parseForward(t), ConfigError, `forward "${t}"`);
  }
});

Deno.test({
  name: "gateway: guest TCP to the gateway address reaches host loopback; refused → RST",
  ...sanitize,
  async fn() {
    const { gw, guest } = await lan();
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (server.addr as Deno.NetAddr).port;
    const payload = crypto.getRandomValues(new Uint8Array(60000));
    const serving = (async () => {
      const c = await server.accept();
      const got = await readAll(c); // until the guest's FIN (half-close carried across)
      await c.write(got.slice().reverse());
      c.close();
      return got.length;
    })();
    try {
      const c = await connect(guest, { hostname: "10.0.2.2", port });
      for (let o = 0; o < payload.length;) o += await c.write(payload.subarray(o));
      await c.closeWrite();
      const back = await readAll(c);
      c.close();
      assertEquals(await serving, payload.length);
      assertEquals(back, payload.slice().reverse());
      // Nothing listens on the freed port: the host refuses, the guest gets a reset.
      server.close();
      const c2 = await connect(guest, { hostname: "10.0.2.2", port });
      await assertRejects(() => c2.read(new Uint8Array(10)));
      const t = gw.counters().tcpNat as Record<string, number>;
      assertEquals(t.hostConnectFailed, 1);
      assertEquals(t.bytesToHost, payload.length);
    } finally {
      await gw.close();
      await guest.close();
    }
  },
});

Deno.test({
  name: "gateway: the host connection opens at the guest's SYN; its banner waits for the handshake",
  ...sanitize,
  async fn() {
    const [a, b] = createPair("gw", 1514);
    // Hold the guest's ACK that completes the handshake (a pure ACK, no payload, to our port).
    let holding = true;
    const filtered: Endpoint = {
      url: a.url,
      mtu: a.mtu,
      send: (f) => a.send(f),
      setSink: (sink) =>
        a.setSink((f) => {
          const ihl = (f[14] & 15) * 4;
          const t = 14 + ihl;
          const pure = f[23] === 6 && f[t + 13] === 0x10 && f.length - t === (f[t + 12] >> 4) * 4;
          if (holding && pure) return;
          sink(f);
        }),
      close: () => a.close(),
      closed: a.closed,
      stats: () => a.stats(),
    };
    const gw = await Gateway.start({ endpoint: filtered, cidr: "10.0.2.0/24" });
    const guest = new Stack({
      endpoint: b,
      ipv4: parse_cidr("10.0.2.15/24")!,
      gateways: [parse_addr("10.0.2.2")!],
    });
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (server.addr as Deno.NetAddr).port;
    try {
      const c = await connect(guest, { hostname: "10.0.2.2", port }); // the guest's side is done
      let timer: ReturnType<typeof setTimeout> | undefined;
      const h = await Promise.race([
        server.accept(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no host connection before the ACK")), 3000);
        }),
      ]).finally(() => clearTimeout(timer));
      const flows = gw.stack.tcp.connections.filter((t) => t.localPort === port);
      assertEquals(flows.map((t) => t.state), ["SYN-RECEIVED"]);
      await h.write(new TextEncoder().encode("hello"));
      h.close();
      const t = gw.counters().tcpNat as Record<string, number>;
      assertEquals(t.connected, 1);
      holding = false; // the guest's ACK gets through (again, after the SYN,ACK's retransmission)
      assertEquals(new TextDecoder().decode(await readAll(c)), "hello");
      c.close();
    } finally {
      server.close();
      await gw.close();
      await guest.close();
    }
  },
});

Deno.test({
  name: "gateway: UDP to the gateway reaches a host echo server; foreign echo requests are dropped",
  ...sanitize,
  async fn() {
    const { gw, guest } = await lan();
    const echo = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (echo.addr as Deno.NetAddr).port;
    (async () => {
      try {
        for (;;) {
          const [d, a] = await echo.receive();
          await echo.send(d, a);
        }
      } catch { /* closed */ }
    })();
    try {
      const s = listenDatagram(guest, { port: 0 });
      await s.send(new TextEncoder().encode("ping"), {
        transport: "udp",
        hostname: "10.0.2.2",
        port,
      });
      const [d, from] = await s.receive();
      assertEquals(new TextDecoder().decode(d), "ping");
      assertEquals((from as Deno.NetAddr).hostname, "10.0.2.2");
      assertEquals((from as Deno.NetAddr).port, port);
      s.close();
      const r = await guest.ping("10.0.2.2", 1, { timeoutMs: 2000 })
        .catch(() => undefined);
      assert(r !== undefined);
      await guest.ping("192.0.2.1", 2, { timeoutMs: 300 }).catch(() => {});
      assertEquals((gw.counters().drops as Record<string, number>).icmpEchoForeign, 1);
    } finally {
      echo.close();
      await gw.close();
      await guest.close();
    }
  },
});

Deno.test({
  name: "gateway: a TCP forward reaches a guest server; removed → refused; bad forwards rejected",
  ...sanitize,
  async fn() {
    const { gw, guest } = await lan();
    try {
      const l = guest.listen({ port: 80 });
      (async () => {
        for await (const c of l) {
          await c.write(new TextEncoder().encode("hello from the guest\n"));
          c.close();
        }
      })();
      const id = await gw.addForward({
        proto: "tcp",
        hostAddr: "127.0.0.1",
        hostPort: 0,
        guestAddr: "10.0.2.15",
        guestPort: 80,
      });
      const f = gw.forwards().find((x) => x.id === id)!;
      assert(f.hostPort > 0);
      const c = await Deno.connect({ hostname: "127.0.0.1", port: f.hostPort });
      assertEquals(new TextDecoder().decode(await readAll(c)), "hello from the guest\n");
      c.close();
      await assertRejects(
        () =>
          gw.addForward({
            proto: "tcp",
            hostAddr: "127.0.0.1",
            hostPort: f.hostPort,
            guestAddr: "10.0.2.15",
            guestPort: 81,
          }),
        ConflictError,
      );
      await assertRejects(
        () =>
          gw.addForward({
            proto: "tcp",
            hostAddr: "127.0.0.1",
            hostPort: 1,
            guestAddr: "10.9.9.9",
            guestPort: 80,
          }),
        ConfigError,
      );
      gw.removeForward(id);
      await new Promise((r) => setTimeout(r, 50)); // Deno drops the listener after its accept op
      const e = await Deno.connect({ hostname: "127.0.0.1", port: f.hostPort })
        .then(async (c) => {
          try {
            return await c.read(new Uint8Array(1)) === null ? undefined : "data";
          } catch (e) {
            return e;
          } finally {
            c.close();
          }
        }, (e) => e);
      assert(
        e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.ConnectionReset,
        String(e),
      );
      l.close();
    } finally {
      await gw.close();
      await guest.close();
    }
  },
});

Deno.test({
  name: "gateway: IPv6 — RA gives the guest a SLAAC address; TCP to [prefix::2] reaches ::1",
  ...sanitize,
  async fn() {
    const [a, b] = createPair("gw6", 1514);
    const gw = await Gateway.start({
      endpoint: a,
      cidr: "10.0.2.0/24",
      ip6: "fd00:2::/64",
      dns: true,
    });
    const guest = new Stack({ endpoint: b, ipv4: parse_cidr("10.0.2.15/24")!, ipv6: ["auto"] });
    let server: Deno.TcpListener | undefined;
    try {
      assert(await guest.settled(10_000), `no SLAAC address: ${guest.addressTexts()}`);
      assert(
        guest.addressTexts().some((t) => t.startsWith("fd00:2::")),
        guest.addressTexts().join(),
      );
      // The RAs carry the gateway's IPv6 address as resolver (RDNSS), and it answers DNS there.
      assertEquals(guest.iface.rdnss.map((r) => format_addr(r.addr)), ["fd00:2::2"]);
      const q = new Uint8Array(512);
      const qn = emit_dns_query(q, 0, 0x1234, "nobody.weft", DNS_TYPE_AAAA);
      const sock = guest.udpBind(0);
      const answer = new Promise<Uint8Array>((resolve) =>
        sock.onDatagram = (d) => resolve(d.slice())
      );
      sock.sendTo(q.subarray(0, qn), parse_addr("fd00:2::2")!, 53);
      guest.kick();
      const r = await answer;
      sock.close();
      assertEquals((r[0] << 8) | r[1], 0x1234);
      assertEquals(r[3] & 15, DNS_RCODE_NXDOMAIN, "NXDOMAIN for an unknown name in weft.");
      try {
        server = Deno.listen({ hostname: "::1", port: 0 });
      } catch {
        return; // no IPv6 loopback on this machine: nothing more to check
      }
      const port = (server.addr as Deno.NetAddr).port;
      server.accept().then(async (c) => {
        await c.write(new TextEncoder().encode("v6 ok"));
        c.close();
      });
      const c = await connect(guest, { hostname: "fd00:2::2", port });
      assertEquals(new TextDecoder().decode(await readAll(c)), "v6 ok");
      c.close();
      assert(((gw.counters().ra as Record<string, number>).sent) >= 1);
    } finally {
      server?.close();
      await gw.close();
      await guest.close();
    }
  },
});
