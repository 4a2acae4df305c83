import { assert, assertEquals, assertThrows } from "@std/assert";
import { ManualClock } from "../../core/clock.ts";
import { ConfigError } from "../../core/errors.ts";
import { SeededRng } from "../../core/rng.ts";
import { format_addr, type IpAddr, parse_addr, parse_cidr } from "../../stack/addr.ts";
import type { UdpSocketCore } from "../../stack/socket_core.ts";
import { frame } from "../../stack/wire/_captured.ts";
import {
  BOOTREQUEST,
  DHCP_FLAG_BROADCAST,
  DHCP_OPT_HOST_NAME,
  DHCP_OPT_MESSAGE_TYPE,
  DHCP_OPT_REQUESTED_IP,
  DHCP_OPT_SERVER_ID,
  DHCPACK,
  DHCPDECLINE,
  DHCPDISCOVER,
  DHCPINFORM,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  DhcpView,
  write_dhcp_end,
  write_dhcp_header,
  write_dhcp_option_bytes,
  write_dhcp_option_u32,
  write_dhcp_option_u8,
} from "../../stack/wire/dhcp.ts";
import { write_mac } from "../../stack/wire/ethernet.ts";
import { DhcpServer, type DhcpServerOptions } from "./dhcp_server.ts";
import { LeaseStore } from "./lease_store.ts";

const A = (s: string): IpAddr => parse_addr(s)!;
const v4 = (s: string): number => {
  const a = A(s);
  return ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
};

interface Sent {
  view: DhcpView;
  dst: string;
  port: number;
}

class FakeSock implements UdpSocketCore {
  readonly localAddr = A("0.0.0.0");
  readonly localPort = 67;
  sent: Sent[] = [];
  onDatagram: ((data: Uint8Array, src: IpAddr, srcPort: number) => void) | undefined;
  sendTo(data: Uint8Array, dst: IpAddr, dstPort: number): boolean {
    const view = new DhcpView();
    assertEquals(view.reset(data.slice(), 0, data.length), "ok");
    this.sent.push({ view, dst: format_addr(dst), port: dstPort });
    return true;
  }
  close(): void {}
  take(): Sent | undefined {
    return this.sent.shift();
  }
}

function macBytes(mac: number): Uint8Array {
  const b = new Uint8Array(6);
  write_mac(b, 0, mac);
  return b;
}

interface Msg {
  type: number;
  mac: number;
  xid?: number;
  ciaddr?: string;
  requested?: string;
  server?: string;
  hostname?: string;
  broadcast?: boolean;
}

function msg(m: Msg): Uint8Array {
  const b = new Uint8Array(400);
  write_dhcp_header(
    b,
    0,
    BOOTREQUEST,
    m.xid ?? 0x1234,
    0,
    m.broadcast ? DHCP_FLAG_BROADCAST : 0,
    m.ciaddr ? v4(m.ciaddr) : 0,
    0,
    0,
    0,
    macBytes(m.mac),
    0,
  );
  let o = 240;
  o += write_dhcp_option_u8(b, o, DHCP_OPT_MESSAGE_TYPE, m.type);
  if (m.requested) o += write_dhcp_option_u32(b, o, DHCP_OPT_REQUESTED_IP, v4(m.requested));
  if (m.server) o += write_dhcp_option_u32(b, o, DHCP_OPT_SERVER_ID, v4(m.server));
  if (m.hostname) {
    const h = new TextEncoder().encode(m.hostname);
    o += write_dhcp_option_bytes(b, o, DHCP_OPT_HOST_NAME, h, 0, h.length);
  }
  return b.subarray(0, write_dhcp_end(b, 0, o));
}

function setup(extra: Partial<DhcpServerOptions> = {}) {
  const clock = new ManualClock(1000);
  const sock = new FakeSock();
  const server = new DhcpServer({
    serverAddr: A("10.9.0.1"),
    subnet: parse_cidr("10.9.0.0/24")!,
    start: A("10.9.0.100"),
    end: A("10.9.0.199"),
    router: A("10.9.0.1"),
    dns: [A("10.9.0.1"), A("10.9.0.53")],
    domain: "weft",
    mtu: 1400,
    clock,
    rng: new SeededRng(7),
    wallClock: { now: () => 1_700_000_000_000 + clock.now() },
    ...extra,
  });
  server.attach(sock);
  const send = (m: Msg) => {
    const p = msg(m);
    sock.onDatagram!(p, A("0.0.0.0"), 68);
    return sock.take();
  };
  /** DISCOVER + REQUEST; returns the ACKed address. */
  const dora = (mac: number, hostname?: string): string => {
    const offer = send({ type: DHCPDISCOVER, mac, hostname });
    assertEquals(offer?.view.message_type, DHCPOFFER);
    const yi = format_addr(addrOf(offer!.view.yiaddr));
    const ack = send({ type: DHCPREQUEST, mac, requested: yi, server: "10.9.0.1", hostname });
    assertEquals(ack?.view.message_type, DHCPACK);
    assertEquals(format_addr(addrOf(ack!.view.yiaddr)), yi);
    return yi;
  };
  return { clock, sock, server, send, dora };
}

function addrOf(x: number): IpAddr {
  return new Uint8Array([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);
}

Deno.test("dhcp server: busybox udhcpc's captured DISCOVER gets a broadcast OFFER with every option", () => {
  const { sock, server } = setup();
  const f = frame("dhcp_discover");
  // Ethernet 14 + IPv4 20 + UDP 8.
  sock.onDatagram!(f.subarray(42), A("0.0.0.0"), 68);
  const s = sock.take()!;
  assertEquals([s.dst, s.port], ["255.255.255.255", 68]);
  const v = s.view;
  assertEquals(v.message_type, DHCPOFFER);
  assertEquals(v.xid, 0xae7b572d);
  assertEquals(v.op, 2);
  const yi = v.yiaddr >>> 0;
  assert(yi >= v4("10.9.0.100") && yi <= v4("10.9.0.199"), format_addr(addrOf(yi)));
  assertEquals(v.server_id >>> 0, v4("10.9.0.1"));
  assertEquals(v.subnet_mask >>> 0, 0xffffff00);
  assertEquals(v.router >>> 0, v4("10.9.0.1"));
  assertEquals([v.dns(0) >>> 0, v.dns(1) >>> 0], [v4("10.9.0.1"), v4("10.9.0.53")]);
  const dom = new TextDecoder().decode(
    v.buf.subarray(v.domain_name_offset, v.domain_name_offset + v.domain_name_len),
  );
  assertEquals(dom, "weft");
  assertEquals(v.interface_mtu, 1400);
  assertEquals([v.lease_time, v.renewal_time, v.rebinding_time], [3600, 1800, 3150]);
  assertEquals(v.buf[v.chaddr_offset + 5], 0x5c);
  assertEquals(server.offerCount, 1);
  assertEquals(server.drops, {});
});

Deno.test("dhcp server: DORA, renew unicast, names, release keeps the previous address", () => {
  const { sock, server, send, dora, clock } = setup();
  const mac = 0x020000000a01;
  const addr = dora(mac, "Vm-One");
  assertEquals(server.leases().map((l) => [format_addr(l.addr), l.name]), [[addr, "vm-one"]]);
  assertEquals(format_addr(server.addrOf("VM-ONE")!), addr);
  assertEquals(server.nameOf(A(addr)), "vm-one");
  // RENEWING: unicast from ciaddr, no server id, no requested IP → ACK unicast to ciaddr.
  clock.advance(1800_000);
  const ack = send({ type: DHCPREQUEST, mac, ciaddr: addr })!;
  assertEquals([ack.view.message_type, ack.dst, ack.view.ciaddr >>> 0], [DHCPACK, addr, v4(addr)]);
  assertEquals(server.leases()[0].expiresAt, clock.now() + 3600_000);
  // RELEASE: no reply, the name goes, and the client gets the same address back later.
  assertEquals(send({ type: DHCPRELEASE, mac, ciaddr: addr, server: "10.9.0.1" }), undefined);
  assertEquals(server.leases(), []);
  assertEquals(server.addrOf("vm-one"), undefined);
  const offer = send({ type: DHCPDISCOVER, mac })!;
  assertEquals(format_addr(addrOf(offer.view.yiaddr)), addr);
  assertEquals(sock.sent, []);
});

Deno.test("dhcp server: reservation always gives its address, to nobody else; requested IP honoured", () => {
  const res = 0x020000000b01;
  const { send, dora, server } = setup({
    reservations: [{ mac: res, addr: A("10.9.0.150"), name: "db" }],
  });
  // Another client asking for the reserved address gets something else.
  const other = send({ type: DHCPDISCOVER, mac: 0x020000000b02, requested: "10.9.0.150" })!;
  assert(format_addr(addrOf(other.view.yiaddr)) !== "10.9.0.150");
  // ... and a free requested address is honoured.
  const r2 = send({ type: DHCPDISCOVER, mac: 0x020000000b03, requested: "10.9.0.177" })!;
  assertEquals(format_addr(addrOf(r2.view.yiaddr)), "10.9.0.177");
  assertEquals(dora(res), "10.9.0.150");
  assertEquals(dora(res), "10.9.0.150");
  assertEquals(format_addr(server.addrOf("db")!), "10.9.0.150");
  assertEquals(server.nameOf(A("10.9.0.150")), "db");
  // SELECTING for the reserved address by someone else → NAK (broadcast).
  const nak = send({
    type: DHCPREQUEST,
    mac: 0x020000000b02,
    requested: "10.9.0.150",
    server: "10.9.0.1",
  })!;
  assertEquals([nak.view.message_type, nak.dst, nak.view.yiaddr], [DHCPNAK, "255.255.255.255", 0]);
});

Deno.test("dhcp server: pool exhaustion gives no offer and is counted; expiry frees addresses", () => {
  const { send, dora, server, clock } = setup({
    start: A("10.9.0.100"),
    end: A("10.9.0.102"),
    leaseSeconds: 60,
  });
  const got = [dora(1), dora(2), dora(3)].sort();
  assertEquals(got, ["10.9.0.100", "10.9.0.101", "10.9.0.102"]);
  assertEquals(send({ type: DHCPDISCOVER, mac: 4 }), undefined);
  assertEquals(server.drops.pool_exhausted, 1);
  // Leases lapse: the newcomer then gets an expired one.
  clock.advance(61_000);
  const o = send({ type: DHCPDISCOVER, mac: 4 })!;
  assert(got.includes(format_addr(addrOf(o.view.yiaddr))));
});

Deno.test("dhcp server: other server chosen, INIT-REBOOT, DECLINE, INFORM", () => {
  const { send, dora, server, clock } = setup({ declineHoldMs: 60_000 });
  const m = 0x020000000c01;
  const o = send({ type: DHCPDISCOVER, mac: m })!;
  const offered = format_addr(addrOf(o.view.yiaddr));
  // The client took another server's offer: silence, and our offer is withdrawn.
  assertEquals(
    send({ type: DHCPREQUEST, mac: m, requested: offered, server: "10.9.0.2" }),
    undefined,
  );
  assertEquals(server.offerCount, 0);
  // INIT-REBOOT from an unknown client: silent (§4.3.2).
  assertEquals(send({ type: DHCPREQUEST, mac: m, requested: "10.9.0.120" }), undefined);
  assertEquals(server.drops.init_reboot_unknown, 1);
  const addr = dora(m);
  // INIT-REBOOT with the right address → ACK; with a wrong one / another subnet → NAK.
  assertEquals(send({ type: DHCPREQUEST, mac: m, requested: addr })!.view.message_type, DHCPACK);
  assertEquals(
    send({ type: DHCPREQUEST, mac: m, requested: "10.8.0.5" })!.view.message_type,
    DHCPNAK,
  );
  // DECLINE: the address is held back from everyone for declineHoldMs.
  send({ type: DHCPDECLINE, mac: m, requested: addr, server: "10.9.0.1" });
  assertEquals(server.leases(), []);
  for (let i = 0; i < 100; i++) {
    const x = send({ type: DHCPDISCOVER, mac: 0x040000000000 + i });
    if (i < 99) assert(format_addr(addrOf(x!.view.yiaddr)) !== addr, `offer ${i}`);
  }
  clock.advance(61_000);
  server.poll(clock.now());
  // INFORM: configuration to ciaddr, no address, no lease time.
  const inf = send({ type: DHCPINFORM, mac: 0x020000000c09, ciaddr: "10.9.0.33" })!;
  assertEquals([inf.view.message_type, inf.dst, inf.view.yiaddr], [DHCPACK, "10.9.0.33", 0]);
  assertEquals(inf.view.lease_time, -1);
  assertEquals(inf.view.router >>> 0, v4("10.9.0.1"));
});

Deno.test("dhcp server: offers expire by poll", () => {
  const { send, server, clock } = setup({ offerHoldMs: 5000 });
  send({ type: DHCPDISCOVER, mac: 9 });
  assertEquals(server.poll(clock.now()), clock.now() + 5000);
  clock.advance(5000);
  assertEquals(server.poll(clock.now()), Infinity);
  assertEquals(server.offerCount, 0);
});

Deno.test("dhcp server: starvation flood of 10,000 random-MAC DISCOVERs is bounded, a real client still gets a lease", () => {
  const { send, dora, server, sock } = setup({ maxOffers: 64 });
  const rng = new SeededRng(99);
  let offers = 0;
  const flood = (n: number) => {
    for (let i = 0; i < n; i++) {
      const mac = (rng.u32() % 0x10000) * 0x100000000 + rng.u32();
      // Unicast MACs (the group bit of the first byte clear), like a flooder's random ones.
      const r = send({
        type: DHCPDISCOVER,
        mac: mac - (Math.floor(mac / 0x10000000000) & 1) * 0x10000000000,
      });
      if (r !== undefined) offers++;
    }
  };
  const t0 = performance.now();
  flood(5000);
  // A real client in the middle of the flood: DISCOVER, a few flood packets, REQUEST.
  const real = 0x02000000aaaa;
  const o = send({ type: DHCPDISCOVER, mac: real })!;
  flood(10);
  const yi = format_addr(addrOf(o.view.yiaddr));
  const ack = send({ type: DHCPREQUEST, mac: real, requested: yi, server: "10.9.0.1" })!;
  assertEquals(ack.view.message_type, DHCPACK);
  flood(4990);
  const ms = performance.now() - t0;
  assert(server.offerCount <= 64, `${server.offerCount} offers outstanding`);
  assertEquals(server.leases().length, 1);
  assertEquals(server.stats.discovers, 10_001);
  // Every flood packet was answered (an offer for a 100-address pool with evictions), and the
  // table overflow is counted.
  assertEquals(offers, 10_000);
  // (the real client's offer left the table at its ACK, freeing one slot)
  assertEquals(server.drops.offer_table_full, 10_001 - 64 - 1);
  assertEquals(sock.sent.length, 0);
  // The bound real lease is never offered to the flood.
  assertEquals(dora(real), yi);
  console.log(`  10,000 DISCOVERs in ${ms.toFixed(0)} ms; ${server.offerCount} offers held`);
});

Deno.test("dhcp server: malformed and random input never throws and is counted", () => {
  const { server, clock } = setup();
  const rng = new SeededRng(3);
  const good = msg({ type: DHCPREQUEST, mac: 5, requested: "10.9.0.120", server: "10.9.0.1" });
  for (let i = 0; i < 20_000; i++) {
    let b: Uint8Array;
    if (i % 3 === 0) b = rng.fill(new Uint8Array(rng.below(600)));
    else {
      b = good.slice(0, rng.below(good.length + 1));
      for (let k = 0; k < 4; k++) if (b.length > 0) b[rng.below(b.length)] = rng.u32() & 255;
      if (i % 3 === 2 && b.length > 240) b[240] = 53;
    }
    server.input(b, 0, b.length, clock.now());
  }
  server.input(good, 10, good.length, clock.now()); // past the end
  assertEquals(server.drops.internal_error, undefined);
  assert((server.drops.truncated ?? 0) > 0 && (server.drops.bad_cookie ?? 0) > 0);
  // Non-Ethernet and BOOTREPLY are counted too.
  const r = good.slice();
  r[0] = 2;
  server.input(r, 0, r.length, clock.now());
  assertEquals(server.drops.not_request! >= 1, true);
});

Deno.test("dhcp server: bad configuration is a ConfigError naming the value", () => {
  const base = {
    serverAddr: A("10.9.0.1"),
    subnet: parse_cidr("10.9.0.0/24")!,
    start: A("10.9.0.100"),
    end: A("10.9.0.199"),
    clock: new ManualClock(),
    rng: new SeededRng(1),
  };
  const cases: Array<[Partial<DhcpServerOptions>, string]> = [
    [{ start: A("10.9.1.100") }, "10.9.1.100"],
    [{ start: A("10.9.0.200") }, "start is after the end"],
    [{ start: A("10.9.0.1") }, "contains the server address 10.9.0.1"],
    [{ end: A("10.9.0.255") }, "10.9.0.255"],
    [{ mtu: 20 }, `MTU "20"`],
    [{ leaseSeconds: 0 }, `lease time "0"`],
    [{ domain: "bad domain" }, `"bad domain"`],
    [{ reservations: [{ mac: 1, addr: A("10.9.1.5") }] }, "10.9.1.5"],
    [
      { reservations: [{ mac: 1, addr: A("10.9.0.5") }, { mac: 1, addr: A("10.9.0.6") }] },
      "Duplicate DHCP reservation for 00:00:00:00:00:01",
    ],
    [
      { reservations: [{ mac: 1, addr: A("10.9.0.5") }, { mac: 2, addr: A("10.9.0.5") }] },
      "Duplicate DHCP reservation of 10.9.0.5",
    ],
  ];
  for (const [o, text] of cases) {
    const e = assertThrows(() => new DhcpServer({ ...base, ...o }), ConfigError);
    assert(e.message.includes(text), `${e.message} should name ${text}`);
  }
});

Deno.test("dhcp server: leases survive a crash (no close) through the LeaseStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wft-lease-" });
  try {
    const path = `${dir}/leases.json`;
    const a = setup({ store: await LeaseStore.open(path) });
    const addr1 = a.dora(0x020000000d01, "alpha");
    const addr2 = a.dora(0x020000000d02);
    // "kill -9": the first server is simply abandoned; a new one loads the file.
    const b = setup({ store: await LeaseStore.open(path) });
    assertEquals(b.server.leases().map((l) => format_addr(l.addr)).sort(), [addr1, addr2].sort());
    assertEquals(format_addr(b.server.addrOf("alpha")!), addr1);
    const o = b.send({ type: DHCPDISCOVER, mac: 0x020000000d02 })!;
    assertEquals(format_addr(addrOf(o.view.yiaddr)), addr2);
    // A newcomer asking for alpha's address does not get it.
    const n = b.send({ type: DHCPDISCOVER, mac: 0x020000000d03, requested: addr1 })!;
    assert(format_addr(addrOf(n.view.yiaddr)) !== addr1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dhcp server: no ACK when the lease cannot be committed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wft-lease-" });
  const store = await LeaseStore.open(`${dir}/sub/leases.json`); // the directory does not exist
  try {
    const { send, server } = setup({ store });
    const o = send({ type: DHCPDISCOVER, mac: 0x020000000e01 })!;
    const yi = format_addr(addrOf(o.view.yiaddr));
    assertEquals(
      send({ type: DHCPREQUEST, mac: 0x020000000e01, requested: yi, server: "10.9.0.1" }),
      undefined,
    );
    assertEquals(server.drops.store_error, 1);
    assertEquals(server.leases(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dhcp server: onLease tells granted (not renewals), released, expired; a throwing listener is counted", () => {
  const events: string[] = [];
  const { server, send, dora, clock } = setup({
    leaseSeconds: 60,
    onLease: (e) => events.push(`${e.type} ${format_addr(e.addr)} ${e.name ?? "-"}`),
  });
  const mac = 0x020000000b01;
  const addr = dora(mac, "one");
  clock.advance(30_000);
  assertEquals(send({ type: DHCPREQUEST, mac, ciaddr: addr })?.view.message_type, DHCPACK);
  assertEquals(events, [`granted ${addr} one`]);
  send({ type: DHCPRELEASE, mac, ciaddr: addr, server: "10.9.0.1" });
  // A second RELEASE of the same lease tells nothing more.
  send({ type: DHCPRELEASE, mac, ciaddr: addr, server: "10.9.0.1" });
  assertEquals(events, [`granted ${addr} one`, `released ${addr} one`]);
  const other = 0x020000000b02;
  const addr2 = dora(other);
  server.poll(clock.now() + 59_000);
  assertEquals(events.length, 3);
  clock.advance(60_000);
  server.poll(clock.now());
  server.poll(clock.now());
  assertEquals(events.slice(2), [`granted ${addr2} -`, `expired ${addr2} -`]);
  server.onLease = () => {
    throw new Error("listener bug");
  };
  dora(0x020000000b03);
  assertEquals(server.drops.lease_listener_error, 1);
});
