/**
 * Many short connections between the same two hosts (an HTTP client opening one per request):
 * ephemeral ports that do not come back while the server still holds the previous connection
 * in TIME-WAIT (RFC 6056 §3.3.3), a SYN that reuses such a port opening a new incarnation when
 * it is newer (RFC 6191), and the pure ACKs of the handshake and of the FIN that wait briefly to
 * ride on the application's next segment.
 */

import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import type { TcpSocketCore } from "../socket_core.ts";
import { emit_tcp, pseudo_sum_ipv4, TCP_SYN } from "../wire/mod.ts";
import { type SimHost, SimNet } from "./sim_link_test_helper.ts";
import type { Tcb } from "./tcb.ts";

const A = new Uint8Array([10, 0, 0, 1]);
const B = new Uint8Array([10, 0, 0, 2]);
const REQUEST = new Uint8Array(80).fill(0x47);
const RESPONSE = new Uint8Array(1121).fill(0x48);

/** B answers each request (80 bytes) with a response (1121 bytes) and closes, as HTTP/1.1 does. */
function serveOn(b: SimHost): void {
  b.engine.listen(80).onAccept = (conn) => {
    const buf = new Uint8Array(4096);
    let got = 0;
    conn.onEvent = (ev) => {
      if (ev !== "readable") return;
      for (let n; (n = conn.recv(buf)) > 0;) got += n;
      if (got === REQUEST.length) {
        got = -1;
        conn.send(RESPONSE);
        conn.close();
      }
    };
  };
}

interface Exchange {
  conn: TcpSocketCore;
  received: number;
  done: boolean;
}

/** A connects to B:80, sends the request once established, reads to EOF and closes. */
function request(a: SimHost, srcPort?: number): Exchange {
  const conn = a.engine.connect(B, 80, srcPort === undefined ? {} : { srcPort });
  const x: Exchange = { conn, received: 0, done: false };
  const buf = new Uint8Array(4096);
  conn.onEvent = (ev) => {
    if (ev === "established") conn.send(REQUEST);
    if (ev === "readable") {
      for (let n; (n = conn.recv(buf)) !== 0;) {
        if (n < 0) {
          conn.close();
          x.done = true;
          return;
        }
        x.received += n;
      }
    }
  };
  return x;
}

Deno.test("churn: 600 sequential requests, each on a new port, none waits for a SYN timeout", () => {
  const net = new SimNet(41, { delayMs: 1 });
  const a = net.addHost(A), b = net.addHost(B);
  serveOn(b);
  const ports = new Set<number>();
  const t0 = net.clock.now();
  const N = 600;
  for (let i = 0; i < N; i++) {
    const x = request(a);
    ports.add(x.conn.localPort);
    assert(net.run(() => x.done, 10_000), `request ${i} did not complete`);
    assertEquals(x.received, RESPONSE.length);
  }
  const elapsed = net.clock.now() - t0;
  net.runFor(10);
  // Every server side is still in TIME-WAIT (60 s): a reused port would have met one of them.
  assertEquals(ports.size, N);
  assertEquals(b.engine.connections.filter((t) => t.state === "TIME-WAIT").length, N);
  assertEquals(a.engine.stats.retransmits + b.engine.stats.retransmits, 0);
  assertEquals(a.engine.stats.resetsOut + b.engine.stats.resetsOut, 0);
  // 2 round trips of 2 ms each per request. Picking ports at random, about 11 of the 600 would
  // have hit a TIME-WAIT connection and waited for the 1 s initial RTO of their SYN.
  assertLessOrEqual(elapsed, N * 4);
});

Deno.test("churn: ports to one destination go up one by one from a per-destination offset", () => {
  const net = new SimNet(42);
  const a = net.addHost(A), b = net.addHost(B);
  const c = net.addHost(new Uint8Array([10, 0, 0, 3]));
  b.engine.listen(80);
  c.engine.listen(80);
  const toB = [0, 1, 2].map(() => a.engine.connect(B, 80).localPort);
  const toC = a.engine.connect(c.addr, 80).localPort;
  const toB2 = a.engine.connect(B, 80).localPort;
  for (const p of [...toB, toC, toB2]) assert(p >= 49152 && p <= 65535, `port ${p}`);
  const next = (p: number, k: number) => 49152 + ((p - 49152 + k) & 16383);
  assertEquals(toB, [toB[0], next(toB[0], 1), next(toB[0], 2)]);
  // RFC 6056 §3.3.3: one counter for all, so after a connection elsewhere B's next is 2 further.
  assertEquals(toB2, next(toB[0], 4));
  assert(toC !== next(toB[0], 3), "another destination has another offset");
});

/** A finished exchange on `srcPort`: B holds it in TIME-WAIT, A has nothing left of it. */
function inTimeWait(net: SimNet, a: SimHost, b: SimHost, srcPort: number): Tcb {
  const x = request(a, srcPort);
  assert(net.run(() => x.done && a.engine.connections.length === 0, 10_000));
  const tw = b.engine.connections.find((t) => t.remotePort === srcPort)!;
  assertEquals(tw.state, "TIME-WAIT");
  return tw;
}

Deno.test("churn: a newer SYN on the ports of a TIME-WAIT connection opens a new one (RFC 6191)", () => {
  const net = new SimNet(43, { delayMs: 1 });
  const a = net.addHost(A), b = net.addHost(B);
  serveOn(b);
  inTimeWait(net, a, b, 50000);
  net.runFor(5);
  const t0 = net.clock.now();
  const x = request(a, 50000);
  assert(net.run(() => x.done, 10_000));
  assertEquals(x.received, RESPONSE.length);
  assertEquals(b.engine.stats.timeWaitReopens, 1);
  assertEquals(a.engine.stats.retransmits + a.engine.stats.resetsOut, 0);
  // Without it: B's ACK for the old connection, A's RST, and the SYN again after 1 s.
  assertLessOrEqual(net.clock.now() - t0, 5);
});

Deno.test("churn: an old SYN (older timestamp, or no newer sequence number) leaves TIME-WAIT alone", () => {
  const net = new SimNet(44, { delayMs: 1 });
  const a = net.addHost(A), b = net.addHost(B);
  serveOn(b);
  const tw = inTimeWait(net, a, b, 50001);
  const syn = (tsVal: number | undefined, seq: number) => {
    const seg = new Uint8Array(60);
    const s = ((10 << 24) | 1) >>> 0, d = ((10 << 24) | 2) >>> 0;
    const hl = emit_tcp(
      seg,
      0,
      {
        src_port: 50001,
        dst_port: 80,
        seq_number: seq >>> 0,
        ack_number: 0,
        flags: TCP_SYN,
        window: 65535,
        ts_val: tsVal === undefined ? undefined : tsVal >>> 0,
        ts_ecr: 0,
      },
      0,
      pseudo_sum_ipv4(s, d, 6),
    );
    b.engine.input(A, B, seg, 0, hl, false);
  };
  syn(tw.tsRecent - 1000, tw.rcvNxt + 100_000); // a delayed duplicate: older timestamp
  syn(undefined, tw.rcvNxt - 10); // no timestamps and not beyond the old RCV.NXT
  assertEquals(b.engine.stats.timeWaitReopens, 0);
  assertEquals(tw.state, "TIME-WAIT");
  assertEquals(b.engine.connections.length, 1);
  syn(undefined, tw.rcvNxt + 100_000); // no timestamps, sequence number beyond: accepted
  assertEquals(b.engine.stats.timeWaitReopens, 1);
  assertEquals(tw.state, "CLOSED");
  assertEquals(b.engine.connections.map((t) => t.state), ["SYN-RECEIVED"]);
});

Deno.test("churn: the handshake's ACK rides on the request, or leaves alone after 1 ms", () => {
  const net = new SimNet(45, { delayMs: 5 });
  const a = net.addHost(A), b = net.addHost(B);
  const fromA: Array<{ at: number; len: number; flags: number }> = [];
  net.tap = (from, _to, seg) => {
    if (from === a) {
      fromA.push({ at: net.clock.now(), len: seg.length - (seg[12] >> 4) * 4, flags: seg[13] });
    }
  };
  let accepted = 0;
  b.engine.listen(80).onAccept = () => accepted++;
  // A client that writes at once: SYN, then the request carrying the ACK.
  const c1 = a.engine.connect(B, 80);
  c1.onEvent = (ev) => ev === "established" && c1.send(REQUEST);
  assert(net.run(() => accepted === 1));
  assertEquals(fromA.map((s) => [s.flags, s.len]), [[0x02, 0], [0x18, 80]]);
  // A client that waits for the server to speak first: the bare ACK 1 ms after the SYN,ACK.
  fromA.length = 0;
  a.engine.connect(B, 80);
  assert(net.run(() => accepted === 2));
  assertEquals(fromA.map((s) => [s.flags, s.len]), [[0x02, 0], [0x10, 0]]);
  assertEquals(fromA[1].at - fromA[0].at, 2 * 5 + 1);
});

Deno.test("churn: the ACK of a FIN rides on the application's own FIN, or leaves after 1 ms", () => {
  for (const closes of [true, false]) {
    const net = new SimNet(46, { delayMs: 5 });
    const a = net.addHost(A), b = net.addHost(B);
    let server: TcpSocketCore | undefined;
    b.engine.listen(80).onAccept = (conn) => (server = conn);
    const c = a.engine.connect(B, 80);
    const buf = new Uint8Array(16);
    c.onEvent = (ev) => {
      if (ev === "readable" && c.recv(buf) < 0 && closes) c.close();
    };
    assert(net.run(() => server !== undefined));
    net.runFor(50);
    const fromA: Array<{ at: number; flags: number }> = [];
    net.tap = (from, _to, seg) => {
      if (from === a) fromA.push({ at: net.clock.now(), flags: seg[13] });
    };
    const t0 = net.clock.now();
    server!.close();
    net.runFor(50);
    if (closes) {
      assertEquals(fromA.map((s) => s.flags), [0x11]); // FIN+ACK, one frame
    } else {
      assertEquals(fromA.map((s) => s.flags), [0x10]);
      assertEquals(fromA[0].at - t0, 5 + 1);
      assertEquals(c.state, "CLOSE-WAIT");
    }
  }
});
