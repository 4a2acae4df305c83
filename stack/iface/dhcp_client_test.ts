import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import { ManualClock } from "../../core/clock.ts";
import { type Rng, SeededRng } from "../../core/rng.ts";
import { format_addr, parse_addr } from "../addr.ts";
import type { IpAddr } from "../addr.ts";
import {
  DHCP_OPT_DNS,
  DHCP_OPT_DOMAIN_NAME,
  DHCP_OPT_INTERFACE_MTU,
  DHCP_OPT_LEASE_TIME,
  DHCP_OPT_MESSAGE_TYPE,
  DHCP_OPT_ROUTER,
  DHCP_OPT_SERVER_ID,
  DHCP_OPT_SUBNET_MASK,
  DHCPACK,
  DHCPDISCOVER,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  DhcpView,
  write_dhcp_end,
  write_dhcp_header,
  write_dhcp_option_addrs,
  write_dhcp_option_bytes,
  write_dhcp_option_u16,
  write_dhcp_option_u32,
  write_dhcp_option_u8,
} from "../wire/dhcp.ts";
import { write_mac } from "../wire/ethernet.ts";
import { parse_ipv4 } from "../wire/ipv4.ts";
import { parse_udp } from "../wire/udp.ts";
import { frame } from "../wire/_captured.ts";
import { DhcpClient, type DhcpLease, REQUEST_TRIES } from "./dhcp_client.ts";

const MAC = 0x02000000005c;
const SERVER = 0x0a000001; // 10.0.0.1
const YIADDR = 0x0a000064; // 10.0.0.100

interface Sent {
  at: number;
  type: number;
  xid: number;
  dst: string; // "broadcast" or the unicast address
  ciaddr: number;
  broadcastFlag: boolean;
  requested: number;
  server: number;
  secs: number;
  prl: number[];
}

/** A client wired to a recorder of what it sends, on a ManualClock. */
function setup(rng: Rng = new SeededRng(7), start = 1_000_000) {
  const clock = new ManualClock(start);
  const sent: Sent[] = [];
  const events: [DhcpLease | undefined, string][] = [];
  const v = new DhcpView();
  const c = new DhcpClient({
    send(buf: Uint8Array, len: number, dst: IpAddr | undefined) {
      assertEquals(v.reset(buf, 0, len), "ok");
      assert(len >= 300, "padded to the BOOTP minimum");
      sent.push({
        at: clock.now(),
        type: v.message_type,
        xid: v.xid,
        dst: dst === undefined ? "broadcast" : format_addr(dst),
        ciaddr: v.ciaddr,
        broadcastFlag: v.broadcast,
        requested: v.requested_ip,
        server: v.server_id,
        secs: v.secs,
        prl: Array.from(
          buf.subarray(
            v.parameter_request_offset,
            v.parameter_request_offset + v.parameter_request_len,
          ),
        ),
      });
      return true;
    },
  }, { mac: MAC, clock, rng, hostname: "weft1" });
  c.onLease = (l, why) => events.push([l, why]);
  /** Advance to `t` (absolute) calling poll at each deadline on the way, as a node would. */
  const run = (t: number) => {
    for (;;) {
      const next = c.poll(clock.now());
      if (next > t) break;
      clock.advance(next - clock.now());
    }
    clock.advance(t - clock.now());
    c.poll(clock.now());
  };
  return { clock, sent, events, c, run };
}

interface Reply {
  type: number;
  xid: number;
  yiaddr?: number;
  server?: number;
  lease?: number;
  chaddr?: number;
  op?: number;
}

/** A server reply built with the codec's writers. */
function reply(r: Reply): Uint8Array {
  const b = new Uint8Array(600);
  const mac = new Uint8Array(6);
  write_mac(mac, 0, r.chaddr ?? MAC);
  let o = write_dhcp_header(b, 0, r.op ?? 2, r.xid, 0, 0, 0, r.yiaddr ?? 0, 0, 0, mac, 0);
  o += write_dhcp_option_u8(b, o, DHCP_OPT_MESSAGE_TYPE, r.type);
  if (r.server !== -1) o += write_dhcp_option_u32(b, o, DHCP_OPT_SERVER_ID, r.server ?? SERVER);
  if (r.type !== DHCPNAK) {
    o += write_dhcp_option_u32(b, o, DHCP_OPT_LEASE_TIME, r.lease ?? 1000);
    o += write_dhcp_option_u32(b, o, DHCP_OPT_SUBNET_MASK, 0xffffff00);
    o += write_dhcp_option_addrs(b, o, DHCP_OPT_ROUTER, [0x0a0000fe]);
    o += write_dhcp_option_addrs(b, o, DHCP_OPT_DNS, [0x01010101, 0x08080808]);
    const dom = new TextEncoder().encode("lab.test");
    o += write_dhcp_option_bytes(b, o, DHCP_OPT_DOMAIN_NAME, dom, 0, dom.length);
    o += write_dhcp_option_u16(b, o, DHCP_OPT_INTERFACE_MTU, 1400);
  }
  return b.subarray(0, write_dhcp_end(b, 0, o));
}

/** What a lease configures on the interface, as text: address, prefix, router, DNS, domain, MTU. */
const configOf = (l: DhcpLease) => [
  format_addr(l.addr),
  l.prefix,
  format_addr(l.router!),
  l.dns.map(format_addr),
  l.domain,
  l.mtu,
];

const give = (c: DhcpClient, m: Uint8Array, now: number) => c.input(m, 0, m.length, now);

/** Start and get to BOUND at `clock.now()`; returns the REQUEST's xid. */
function bind(t: ReturnType<typeof setup>): void {
  const { c, sent, clock } = t;
  c.start(clock.now());
  const d = sent.at(-1)!;
  give(c, reply({ type: DHCPOFFER, xid: d.xid, yiaddr: YIADDR }), clock.now());
  const r = sent.at(-1)!;
  give(c, reply({ type: DHCPACK, xid: r.xid, yiaddr: YIADDR }), clock.now());
}

Deno.test("dhcp client: DISCOVER → OFFER → REQUEST → ACK: BOUND with the lease", () => {
  const t = setup();
  const { c, sent, events, clock } = t;
  assertEquals(c.state, "STOPPED");
  c.start(clock.now());
  assertEquals(c.state, "SELECTING");
  const d = sent[0];
  assertEquals([d.type, d.dst, d.ciaddr, d.broadcastFlag, d.secs], [
    DHCPDISCOVER,
    "broadcast",
    0,
    true,
    0,
  ]);
  assertEquals(d.prl, [1, 3, 6, 15, 26, 51, 58, 59]);
  clock.advance(1500);
  give(c, reply({ type: DHCPOFFER, xid: d.xid, yiaddr: YIADDR }), clock.now());
  assertEquals(c.state, "REQUESTING");
  const r = sent[1];
  assertEquals([r.type, r.xid, r.dst, r.ciaddr, r.broadcastFlag, r.secs], [
    DHCPREQUEST,
    d.xid,
    "broadcast",
    0,
    true,
    1,
  ]);
  assertEquals([r.requested, r.server], [YIADDR, SERVER]);
  // A second OFFER (another server) while REQUESTING is ignored.
  give(
    c,
    reply({ type: DHCPOFFER, xid: d.xid, yiaddr: YIADDR + 1, server: 0x0a000002 }),
    clock.now(),
  );
  assertEquals([c.state, c.drops.unexpected], ["REQUESTING", 1]);
  clock.advance(500);
  give(c, reply({ type: DHCPACK, xid: r.xid, yiaddr: YIADDR }), clock.now());
  assertEquals(c.state, "BOUND");
  const l = c.lease!;
  assertEquals(events, [[l, "bound"]]);
  assertEquals(
    configOf(l),
    ["10.0.0.100", 24, "10.0.0.254", ["1.1.1.1", "8.8.8.8"], "lab.test", 1400],
  );
  assertEquals([format_addr(l.server), l.leaseSeconds, l.t1, l.t2], ["10.0.0.1", 1000, 500, 875]);
  // The lease clock started when the REQUEST was sent (RFC 2131 §4.4.1), not at the ACK.
  assertEquals(l.obtainedAt, 1_001_500);
  assertEquals(c.poll(clock.now()), 1_001_500 + 500_000);
  assertEquals(sent.length, 2);
});

Deno.test("dhcp client: T1 renew unicast, T2 rebind broadcast, expiry → INIT, NAK, release", () => {
  const t = setup();
  const { c, sent, events, clock, run } = t;
  bind(t);
  const t0 = c.lease!.obtainedAt;
  // T1: REQUEST unicast to the server, ciaddr = our address, no requested IP / server id.
  run(t0 + 500_000);
  assertEquals(c.state, "RENEWING");
  let r = sent.at(-1)!;
  assertEquals([r.type, r.dst, r.ciaddr, r.broadcastFlag, r.requested, r.server], [
    DHCPREQUEST,
    "10.0.0.1",
    YIADDR,
    false,
    -1,
    -1,
  ]);
  give(c, reply({ type: DHCPACK, xid: r.xid, yiaddr: YIADDR, lease: 2000 }), clock.now());
  assertEquals([c.state, events.at(-1)![1], c.lease!.leaseSeconds], ["BOUND", "renewed", 2000]);
  const t1 = c.lease!.obtainedAt;
  assertEquals(t1, t0 + 500_000);

  // Server silent: RENEWING retries at max(60 s, half the time to T2) (RFC 2131 §4.4.5).
  const n0 = sent.length;
  run(t1 + 1_000_000); // T1
  assertEquals(sent.length, n0 + 1);
  run(t1 + 1_750_000 - 1); // just before T2
  const renews = sent.slice(n0).map((s) => (s.at - t1) / 1000);
  // T2 - T1 = 750 s: retries at 1000+375, +187.5, +93.75, then 60 s steps until T2.
  assertEquals(renews.slice(0, 5), [1000, 1375, 1562.5, 1656.25, 1716.25]);
  assert(sent.slice(n0).every((s) => s.dst === "10.0.0.1"));
  run(t1 + 1_750_000);
  assertEquals(c.state, "REBINDING");
  r = sent.at(-1)!;
  assertEquals([r.dst, r.ciaddr, r.broadcastFlag, r.requested, r.server], [
    "broadcast",
    YIADDR,
    false,
    -1,
    -1,
  ]);
  // Another server answers the rebind.
  give(
    c,
    reply({ type: DHCPACK, xid: r.xid, yiaddr: YIADDR, server: 0x0a000002, lease: 2000 }),
    clock.now(),
  );
  assertEquals([c.state, events.at(-1)![1], format_addr(c.lease!.server)], [
    "BOUND",
    "rebound",
    "10.0.0.2",
  ]);

  // Nobody answers at all: RENEWING, REBINDING, then expiry → INIT and a new DISCOVER.
  const t2 = c.lease!.obtainedAt;
  run(t2 + 2_000_000);
  assertEquals([events.at(-1)![0], events.at(-1)![1], c.lease], [undefined, "expired", undefined]);
  assertEquals(c.state, "SELECTING");
  assertEquals([sent.at(-1)!.type, sent.at(-1)!.at], [DHCPDISCOVER, t2 + 2_000_000]);
  const rebinds = sent.filter((s) => s.at > t2 + 1_750_000 && s.type === DHCPREQUEST);
  assert(rebinds.length >= 2 && rebinds.every((s) => s.dst === "broadcast"));

  // Bound again; the renewal is NAKed: lease gone, back to SELECTING.
  bind(t);
  run(c.lease!.obtainedAt + 500_000);
  r = sent.at(-1)!;
  give(c, reply({ type: DHCPNAK, xid: r.xid }), clock.now());
  assertEquals([events.at(-1)![0], events.at(-1)![1], c.state], [undefined, "nak", "SELECTING"]);
  assertEquals(sent.at(-1)!.type, DHCPDISCOVER);

  // Release: unicast to the server with ciaddr, then STOPPED and no more timers.
  bind(t);
  c.release(clock.now());
  r = sent.at(-1)!;
  assertEquals([r.type, r.dst, r.ciaddr, r.server], [DHCPRELEASE, "10.0.0.1", YIADDR, SERVER]);
  assertEquals([c.state, c.lease, events.at(-1)![1]], ["STOPPED", undefined, "released"]);
  assertEquals(c.poll(clock.now() + 1e9), Infinity);
});

Deno.test("dhcp client: retransmission backoff 4, 8, 16, 32, 64, 64 s ±1 s; REQUEST gives up", () => {
  for (const seed of [1, 2, 3]) {
    const { c, sent, run, clock } = setup(new SeededRng(seed));
    c.start(clock.now());
    run(clock.now() + 220_000);
    const gaps = sent.slice(1).map((s, i) => s.at - sent[i].at);
    assertEquals(gaps.length, 6);
    [4, 8, 16, 32, 64, 64].forEach((base, i) => {
      assertLessOrEqual(Math.abs(gaps[i] - base * 1000), 1000, `seed ${seed} gap ${i}: ${gaps[i]}`);
    });
    assert(new Set(gaps.map((g) => g % 1000)).size > 1, "jittered");
    assert(sent.every((s) => s.type === DHCPDISCOVER && s.xid === sent[0].xid));
    assertEquals(sent.at(-1)!.secs, Math.floor((sent.at(-1)!.at - sent[0].at) / 1000));
  }
  // An OFFER, then a silent server: REQUEST_TRIES REQUESTs, then a fresh DISCOVER (new xid).
  const { c, sent, run, clock } = setup();
  c.start(clock.now());
  give(c, reply({ type: DHCPOFFER, xid: sent[0].xid, yiaddr: YIADDR }), clock.now());
  run(clock.now() + 200_000);
  const types = sent.map((s) => s.type);
  assertEquals(types.slice(0, REQUEST_TRIES + 2), [
    DHCPDISCOVER,
    ...Array(REQUEST_TRIES).fill(DHCPREQUEST),
    DHCPDISCOVER,
  ]);
  assert(sent[REQUEST_TRIES + 1].xid !== sent[0].xid);
  assertEquals(c.state, "SELECTING");
});

Deno.test("dhcp client: malformed, foreign xid, wrong chaddr, wrong server: dropped and counted", () => {
  const { c, sent, clock } = setup();
  c.start(clock.now());
  const xid = sent[0].xid, now = clock.now();
  give(c, reply({ type: DHCPOFFER, xid: xid ^ 1, yiaddr: YIADDR }), now);
  give(c, reply({ type: DHCPOFFER, xid, yiaddr: YIADDR, chaddr: MAC + 1 }), now);
  give(c, reply({ type: DHCPOFFER, xid, yiaddr: YIADDR, op: 1 }), now);
  give(c, reply({ type: DHCPOFFER, xid, yiaddr: 0 }), now);
  give(c, reply({ type: DHCPOFFER, xid, yiaddr: YIADDR, server: -1 }), now);
  give(c, reply({ type: DHCPACK, xid, yiaddr: YIADDR }), now);
  const m = reply({ type: DHCPOFFER, xid, yiaddr: YIADDR });
  c.input(m, 0, 200, now); // truncated
  c.input(m, 0, m.length + 1, now); // past the buffer
  const bad = m.slice();
  bad[240 + 1] = 9; // message type of length 9
  give(c, bad, now);
  for (let i = 0; i < 2000; i++) c.input(new SeededRng(i).fill(new Uint8Array(300)), 0, 300, now);
  assertEquals(c.state, "SELECTING");
  assertEquals(sent.length, 1);
  assertEquals(c.drops.xid, 1);
  assertEquals(c.drops.chaddr, 1);
  assertEquals(c.drops.not_reply, 1);
  assertEquals(c.drops.bad_offer, 2);
  assertEquals(c.drops.unexpected, 1);
  assertEquals(c.drops.truncated, 2);
  assert((c.drops.bad_cookie ?? 0) >= 2000 - 1);
  // REQUESTING: an ACK or NAK from another server than the one requested is not ours.
  give(c, m, now);
  const r = sent.at(-1)!;
  give(c, reply({ type: DHCPNAK, xid: r.xid, server: 0x0a000009 }), now);
  give(c, reply({ type: DHCPACK, xid: r.xid, yiaddr: YIADDR, server: 0x0a000009 }), now);
  assertEquals([c.state, c.drops.server], ["REQUESTING", 2]);
  // An ACK without a lease time is refused (RFC 2131 table 3).
  const noLease = reply({ type: DHCPACK, xid: r.xid, yiaddr: YIADDR });
  noLease[240 + 3 + 6] = 200; // option 51 (after 53 and 54) becomes an unknown 200
  give(c, noLease, now);
  assertEquals([c.state, c.drops.bad_ack], ["REQUESTING", 1]);
});

Deno.test("dhcp client: the captured busybox udhcpd OFFER and ACK (real bytes)", () => {
  // An Rng whose first u32 is the xid of the capture.
  const seq = new SeededRng(1);
  let first = true;
  const rng: Rng = {
    u32: () => first ? (first = false, 0xae7b572d) : seq.u32(),
    float: () => seq.float(),
    below: (n) => seq.below(n),
    fill: (b) => seq.fill(b),
  };
  const { c, sent, events, clock } = setup(rng);
  c.start(clock.now());
  assertEquals(sent[0].xid, 0xae7b572d);
  const udp = (name: "dhcp_offer" | "dhcp_ack") => {
    const f = frame(name);
    const ip = parse_ipv4(f, 14)!;
    const u = parse_udp(f, ip.payload_offset, ip.payload_len, ip.pseudo_sum())!;
    c.input(f, u.payload_offset, u.payload_len, clock.now());
  };
  udp("dhcp_offer");
  assertEquals([sent[1].type, sent[1].requested, sent[1].server], [
    DHCPREQUEST,
    0x0a380074,
    0x0a380001,
  ]);
  udp("dhcp_ack");
  const l = c.lease!;
  assertEquals(events.length, 1);
  assertEquals(
    configOf(l),
    ["10.56.0.116", 24, "10.56.0.1", ["10.56.0.1", "10.56.0.53"], "weft.test", 1400],
  );
  assertEquals([format_addr(l.server), l.leaseSeconds, l.t1, l.t2], [
    "10.56.0.1",
    3600,
    1800,
    3150,
  ]);
});

Deno.test("dhcp client: INIT-REBOOT asks for the previous address; silence → INIT", () => {
  const { c, sent, events, clock } = setup();
  c.start(clock.now(), parse_addr("10.0.0.77")!);
  assertEquals(c.state, "REBOOTING");
  let r = sent[0];
  assertEquals([r.type, r.requested, r.server, r.ciaddr, r.dst, r.broadcastFlag], [
    DHCPREQUEST,
    0x0a00004d,
    -1,
    0,
    "broadcast",
    true,
  ]);
  give(
    c,
    reply({ type: DHCPACK, xid: r.xid, yiaddr: 0x0a00004d, server: 0x0a000003 }),
    clock.now(),
  );
  assertEquals([c.state, events.at(-1)![1], format_addr(c.lease!.server)], [
    "BOUND",
    "bound",
    "10.0.0.3",
  ]);
  // NAK to a reboot (moved to another network): told, then DISCOVER.
  c.start(clock.now(), parse_addr("10.0.0.77")!);
  r = sent.at(-1)!;
  give(c, reply({ type: DHCPNAK, xid: r.xid, server: 0x0a000009 }), clock.now());
  assertEquals([events.at(-1)![1], c.state, sent.at(-1)!.type], ["nak", "SELECTING", DHCPDISCOVER]);
  // No answer at all.
  const { c: c2, sent: s2, run: run2, clock: k2 } = setup();
  c2.start(k2.now(), parse_addr("10.0.0.77")!);
  run2(k2.now() + 100_000);
  assertEquals(s2.slice(0, REQUEST_TRIES + 1).map((s) => s.type), [
    ...Array(REQUEST_TRIES).fill(DHCPREQUEST),
    DHCPDISCOVER,
  ]);
});

Deno.test("dhcp client: snapshot/restore moves a bound client to another clock", () => {
  const t = setup();
  bind(t);
  const t0 = t.c.lease!.obtainedAt;
  t.clock.advance(100_000);
  const snap = structuredClone(t.c.snapshot()); // as it would travel
  const u = setup(new SeededRng(99), 5_000); // another host: its clock reads 5 s
  u.c.restore(snap);
  assertEquals([u.c.state, format_addr(u.c.lease!.addr)], ["BOUND", "10.0.0.100"]);
  // T1 was 400 s away at the snapshot; it still is on the new clock.
  assertEquals(u.c.poll(5_000), 5_000 + (t0 + 500_000 - t.clock.now()));
  u.run(5_000 + 400_000);
  assertEquals([u.c.state, u.sent.at(-1)!.dst, u.sent.at(-1)!.ciaddr], [
    "RENEWING",
    "10.0.0.1",
    YIADDR,
  ]);
  let threw = false;
  try {
    u.c.restore({ nope: 1 });
  } catch (e) {
    threw = e instanceof TypeError;
  }
  assert(threw);
});
