import { assert, assertEquals, assertGreater, assertLessOrEqual } from "@std/assert";
import type { IpAddr } from "../addr.ts";
import type { TcpSocketCore } from "../socket_core.ts";
import { emit_tcp, pseudo_sum_ipv4, TCP_ACK, TCP_RST, TCP_SYN, TcpView } from "../wire/mod.ts";
import { App } from "./app_test_helper.ts";
import { type LinkOptions, type SimHost, SimNet } from "./sim_link_test_helper.ts";
import type { TcpOptions } from "./engine.ts";
import type { Tcb } from "./tcb.ts";

const A = new Uint8Array([10, 0, 0, 1]);
const B = new Uint8Array([10, 0, 0, 2]);
const A6 = new Uint8Array(16);
A6.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const B6 = new Uint8Array(16);
B6.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

function setup(
  seed: number,
  link: LinkOptions = {},
  optsA: Partial<TcpOptions> = {},
  optsB: Partial<TcpOptions> = {},
  v6 = false,
): { net: SimNet; a: SimHost; b: SimHost } {
  const net = new SimNet(seed, link);
  const a = net.addHost(v6 ? A6 : A, optsA);
  const b = net.addHost(v6 ? B6 : B, optsB);
  return { net, a, b };
}

/** A listens on 80 with an App per accepted connection; B connects. */
function connectPair(
  _net: SimNet,
  client: SimHost,
  server: SimHost,
  clientOpts = {},
  serverOpts = {},
  port = 80,
): { c: App; s: () => App | undefined } {
  let sApp: App | undefined;
  const l = server.engine.listen(port);
  l.onAccept = (conn) => {
    sApp = new App(conn, serverOpts);
    sApp.pump();
  };
  const c = new App(client.engine.connect(server.addr, port), clientOpts);
  return { c, s: () => sApp };
}

function tcb(c: TcpSocketCore): Tcb {
  return c as Tcb;
}

function noInternalErrors(...hosts: SimHost[]): void {
  for (const h of hosts) {
    assertEquals(h.engine.lastInternalError, undefined);
  }
}

Deno.test("handshake A->B and B->A with negotiated options", () => {
  for (const v6 of [false, true]) {
    const { net, a, b } = setup(1, {}, {}, {}, v6);
    const ab = connectPair(net, a, b);
    const ba = connectPair(net, b, a, {}, {}, 8080);
    assert(
      net.run(() =>
        ab.s() !== undefined && ba.s() !== undefined && ab.c.events.includes("established") &&
        ba.c.events.includes("established")
      ),
    );
    for (const app of [ab.c, ab.s()!, ba.c, ba.s()!]) {
      const t = tcb(app.conn);
      assertEquals(t.state, "ESTABLISHED");
      assert(t.tsOk && t.sackOk);
      assertEquals(t.sndWscale, 3); // 256 KiB buffers
      assertEquals(t.mss, (v6 ? 1440 : 1460) - 12);
    }
    assertEquals(ab.c.conn.remotePort, 80);
    assertEquals(ab.s()!.conn.localPort, 80);
    assertEquals(ab.s()!.conn.remotePort, ab.c.conn.localPort);
    assert(ab.c.conn.localPort >= 49152);
    assertEquals(a.engine.stats.activeOpens, 1);
    assertEquals(a.engine.stats.passiveOpens, 1);
    noInternalErrors(a, b);
  }
});

Deno.test("SYN carries MSS, window scale from the receive buffer, SACK-permitted, timestamps", () => {
  const { net, a, b } = setup(2, {}, { recvBuffer: 1 << 20 });
  const syns: TcpView[] = [];
  net.tap = (_f, _t, seg) => {
    const v = new TcpView();
    assertEquals(v.reset(seg.slice(), 0, seg.length, -1), "ok");
    if (v.flags & TCP_SYN) syns.push(v);
  };
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  assertEquals(syns.length, 2);
  const [syn, synAck] = syns;
  assertEquals(syn.flags, TCP_SYN);
  assertEquals(syn.mss, 1460);
  assertEquals(syn.window_scale, 5); // 1 MiB >> 5 = 32768 <= 65535
  assert(syn.sack_permitted && syn.has_timestamps);
  assertEquals(syn.window, 65535); // a SYN's window is never scaled
  assertEquals(synAck.flags, TCP_SYN | TCP_ACK);
  assertEquals(synAck.window_scale, 3);
  assertEquals(synAck.ts_ecr, syn.ts_val);
  assertEquals(tcb(p.c.conn).sndWscale, 3);
  assertEquals(tcb(p.s()!.conn).sndWscale, 5);
});

Deno.test("simultaneous open (RFC 9293 figure 7)", () => {
  const { net, a, b } = setup(3);
  const ca = new App(a.engine.connect(B, 5000, { srcPort: 6000 }), { send: 3000, shutdown: true });
  const cb = new App(b.engine.connect(A, 6000, { srcPort: 5000 }), { send: 2000, shutdown: true });
  assert(net.run(() => ca.eof && cb.eof));
  assert(ca.events.includes("established") && cb.events.includes("established"));
  assertEquals(ca.received, 2000);
  assertEquals(cb.received, 3000);
  assertEquals(ca.mismatchAt, -1);
  assertEquals(cb.mismatchAt, -1);
  noInternalErrors(a, b);
});

function transfer(
  seed: number,
  link: LinkOptions,
  size: number,
  opts: Partial<TcpOptions> = {},
): { net: SimNet; a: SimHost; b: SimHost; c: App; s: App } {
  const { net, a, b } = setup(seed, link, opts, opts);
  const p = connectPair(net, a, b, { send: size, shutdown: true }, { send: size, shutdown: true });
  const ok = net.run(() => {
    const s = p.s();
    return s !== undefined && p.c.eof && s.eof && p.c.sendDone && s.sendDone;
  });
  assert(ok, `transfer did not finish: c=${p.c.received} s=${p.s()?.received}`);
  const s = p.s()!;
  assertEquals(p.c.received, size);
  assertEquals(s.received, size);
  assertEquals(p.c.mismatchAt, -1);
  assertEquals(s.mismatchAt, -1);
  noInternalErrors(a, b);
  return { net, a, b, c: p.c, s };
}

Deno.test("1 MiB both directions, byte-exact, then an orderly close", () => {
  const { net, a, b, c, s } = transfer(4, { delayMs: 2 }, 1 << 20);
  s.conn.close();
  c.conn.close();
  net.runFor(1000);
  // One side went through TIME-WAIT (or both, closing simultaneously); no errors.
  assertEquals(c.conn.error, undefined);
  assertEquals(s.conn.error, undefined);
  assert(c.events.includes("closed") && s.events.includes("closed"));
  assertEquals(a.engine.stats.retransmits, 0);
  net.runFor(61_000);
  assertEquals(a.engine.connections.length + b.engine.connections.length, 0);
});

Deno.test("1 MiB both directions with 5% loss and reordering: SACK recovery", () => {
  const { a, b } = transfer(5, {
    delayMs: 5,
    loss: 0.05,
    reorder: 0.05,
    reorderMs: 4,
    duplicate: 0.01,
  }, 1 << 20);
  for (const h of [a, b]) {
    assertGreater(h.engine.stats.sackRetransmits, 0);
    assertGreater(h.engine.stats.fastRecoveries, 0);
  }
});

Deno.test("1 MiB with loss and no SACK: NewReno recovery (RFC 6582)", () => {
  const { a, b } = transfer(6, { delayMs: 5, loss: 0.03 }, 1 << 20, {
    sack: false,
    congestion: "newreno",
  });
  for (const h of [a, b]) {
    assertEquals(h.engine.stats.sackRetransmits, 0);
    assertGreater(h.engine.stats.fastRetransmits, 0);
  }
});

Deno.test("IPv6 transfer with timestamps off", () => {
  const { net, a, b } = setup(7, { delayMs: 1, loss: 0.01 }, { timestamps: false }, {
    timestamps: false,
  }, true);
  const p = connectPair(net, a, b, { send: 300_000, shutdown: true }, {
    send: 200_000,
    shutdown: true,
  });
  assert(net.run(() => p.c.eof && p.s() !== undefined && p.s()!.eof));
  assertEquals(p.c.received, 200_000);
  assertEquals(p.s()!.received, 300_000);
  assertEquals(p.c.mismatchAt, -1);
  assertEquals(tcb(p.c.conn).mss, 1440);
  noInternalErrors(a, b);
});

Deno.test("determinism: the same seed gives the same counters", () => {
  const run = () => {
    const r = transfer(8, { delayMs: 3, loss: 0.04, reorder: 0.03, jitterMs: 1 }, 256 * 1024);
    return { a: r.a.engine.stats, b: r.b.engine.stats, link: r.net.counts, t: r.net.clock.now() };
  };
  const x = run();
  const y = run();
  assertEquals(x, y);
  assertGreater(x.a.retransmits + x.b.retransmits, 0);
});

Deno.test("RST to a closed port: connect fails with refused", () => {
  const { net, a, b } = setup(9);
  const c = new App(a.engine.connect(B, 81));
  assert(net.run(() => c.events.includes("closed")));
  assertEquals(c.events, ["error", "closed"]);
  assertEquals(c.conn.error, "refused");
  assertEquals(c.conn.state, "CLOSED");
  assertEquals(b.engine.stats.drops.no_socket, 1);
  assertEquals(b.engine.stats.resetsOut, 1);
  assertEquals(a.engine.connections.length, 0);
});

Deno.test("no RST in reply to a RST for a closed port", () => {
  const { a } = setup(10);
  const seg = new Uint8Array(20);
  emit_tcp(
    seg,
    0,
    { src_port: 1, dst_port: 2, seq_number: 5, ack_number: 0, flags: TCP_RST, window: 0 },
    0,
    pseudo(B, A),
  );
  a.engine.input(B, A, seg, 0, 20, false);
  assertEquals(a.engine.stats.resetsOut, 0);
  assertEquals(a.engine.stats.drops.no_socket, 1);
  // A bad checksum is counted, not answered.
  seg[16] ^= 1;
  a.engine.input(B, A, seg, 0, 20, false);
  assertEquals(a.engine.stats.drops.bad_checksum, 1);
});

function pseudo(src: IpAddr, dst: IpAddr): number {
  const u = (x: IpAddr) => ((x[0] << 24) | (x[1] << 16) | (x[2] << 8) | x[3]) >>> 0;
  return pseudo_sum_ipv4(u(src), u(dst), 6);
}

Deno.test("SYN retransmission backs off and connect times out", () => {
  const { net, a } = setup(11);
  const times: number[] = [];
  net.tap = (_f, _t, _seg) => {
    times.push(net.clock.now());
    return "drop";
  };
  const c = new App(a.engine.connect(B, 80));
  assert(net.run(() => c.events.includes("closed")));
  assertEquals(c.conn.error, "timeout");
  assertEquals(times.length, 7); // SYN + 6 retries
  for (let i = 1; i < times.length; i++) assertEquals(times[i] - times[i - 1], 1000 * 2 ** (i - 1));
});

Deno.test("data RTO: exponential backoff, then give up with timeout", () => {
  const { net, a, b } = setup(12, { delayMs: 10 });
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  net.runFor(100);
  const times: number[] = [];
  net.tap = (from) => {
    if (from === a) times.push(net.clock.now());
    return "drop";
  };
  p.c.opts.send = 1000;
  p.c.pump();
  assert(net.run(() => p.c.events.includes("closed")));
  assertEquals(p.c.conn.error, "timeout");
  assertEquals(p.c.events.slice(-2), ["error", "closed"]);
  assertEquals(times.length, 16); // original + 15 retransmissions
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  for (let i = 1; i < gaps.length; i++) {
    assert(gaps[i] === Math.min(gaps[i - 1] * 2, 60000), `gap ${i}: ${gaps}`);
  }
  assertEquals(gaps[gaps.length - 1], 60000);
  assertEquals(a.engine.stats.rtoTimeouts, 15);
});

Deno.test("half close: shutdownWrite, the peer reads to EOF and still sends", () => {
  const { net, a, b } = setup(13, { delayMs: 1 });
  const p = connectPair(net, a, b, { send: 100_000, shutdown: true }, { send: 0 });
  assert(net.run(() => p.s()?.eof === true));
  const s = p.s()!;
  assertEquals(s.received, 100_000);
  net.runFor(10);
  assertEquals(s.conn.state, "CLOSE-WAIT");
  assertEquals(p.c.conn.state, "FIN-WAIT-2");
  s.opts.send = 50_000;
  s.opts.shutdown = true;
  s.pump();
  assert(net.run(() => p.c.eof));
  assertEquals(p.c.received, 50_000);
  assertEquals(p.c.mismatchAt, -1);
  net.runFor(100);
  assertEquals(p.c.conn.state, "TIME-WAIT");
  assertEquals(s.conn.state, "CLOSED");
  assertEquals(s.conn.error, undefined);
  assertEquals(a.engine.connections.length, 1);
  // TIME-WAIT lasts 2*MSL (60 s by default).
  net.runFor(59_000);
  assertEquals(p.c.conn.state, "TIME-WAIT");
  net.runFor(2_000);
  assertEquals(p.c.conn.state, "CLOSED");
  assertEquals(a.engine.connections.length, 0);
});

Deno.test("TIME-WAIT uses a configured MSL", () => {
  const { net, a, b } = setup(14, {}, { mslMs: 500 });
  const p = connectPair(net, a, b, { shutdown: true }, { shutdown: true });
  assert(net.run(() => p.c.eof && p.s()?.eof === true));
  net.runFor(10);
  assertEquals(p.c.conn.state, "TIME-WAIT");
  net.runFor(995);
  assertEquals(p.c.conn.state, "CLOSED");
  assertEquals(a.engine.connections.length, 0);
});

Deno.test("close with unread data sends RST: the peer sees reset", () => {
  const { net, a, b } = setup(15);
  const p = connectPair(net, a, b, { send: 5000 }, { read: false });
  assert(net.run(() => tcb(p.s()?.conn ?? p.c.conn).rcv.length === 5000));
  const s = p.s()!;
  s.conn.close();
  assertEquals(s.conn.state, "CLOSED");
  assert(net.run(() => p.c.events.includes("closed")));
  assertEquals(p.c.conn.error, "reset");
  assertEquals(s.conn.error, undefined);
  assertEquals(b.engine.stats.resetsOut, 1);
});

Deno.test("abort sends RST", () => {
  const { net, a, b } = setup(16);
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  p.c.conn.abort();
  assert(net.run(() => p.s()!.events.includes("closed")));
  assertEquals(p.s()!.conn.error, "reset");
  assertEquals(b.engine.connections.length, 0);
});

Deno.test("zero window: persist probes, lost window update, recovery", () => {
  const { net, a, b } = setup(17, { delayMs: 5 }, {}, { recvBuffer: 16384 });
  const p = connectPair(net, a, b, { send: 100_000, shutdown: true }, { read: false });
  assert(net.run(() => p.s() !== undefined && tcb(p.s()!.conn).rcv.length === 16384));
  net.runFor(500); // the last small window is filled by the persist timer (SWS override)
  assertEquals(tcb(p.c.conn).sndWnd, 0);
  net.runFor(5000);
  const probes = a.engine.stats.zeroWindowProbes;
  assertGreater(probes, 1);
  // Everything is queued and the FIN is pending behind it; probes are answered: never gives up.
  assertEquals(p.c.conn.state, "FIN-WAIT-1");
  assertEquals(p.c.conn.error, undefined);
  // The reader drains once; the window update is lost; a later probe learns the window.
  let dropped = 0;
  net.tap = (from) => {
    if (from === b && dropped === 0) {
      dropped++;
      return "drop";
    }
  };
  const s = p.s()!;
  s.reading = true;
  s.drain();
  assertEquals(dropped, 1);
  assert(net.run(() => s.eof, 200_000));
  assertEquals(s.received, 100_000);
  assertEquals(s.mismatchAt, -1);
  assertGreater(a.engine.stats.zeroWindowProbes, probes);
});

Deno.test("RFC 5961: in-window RST with a wrong sequence number gets a challenge ACK", () => {
  const { net, a, b } = setup(18);
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  net.runFor(50);
  const s = tcb(p.s()!.conn);
  const acks: TcpView[] = [];
  net.tap = (from, _to, seg) => {
    const v = new TcpView();
    v.reset(seg.slice(), 0, seg.length, -1);
    if (from === b) acks.push(v);
  };
  const seg = new Uint8Array(20);
  const inject = (seq: number, flags: number) => {
    emit_tcp(
      seg,
      0,
      {
        src_port: p.c.conn.localPort,
        dst_port: 80,
        seq_number: seq,
        ack_number: s.sndNxt,
        flags,
        window: 100,
      },
      0,
      pseudo(A, B),
    );
    b.engine.input(A, B, seg, 0, 20, false);
  };
  inject((s.rcvNxt + 1000) >>> 0, TCP_RST);
  assertEquals(s.state, "ESTABLISHED");
  assertEquals(b.engine.stats.challengeAcks, 1);
  assertEquals(acks.length, 1);
  assertEquals(acks[0].flags, TCP_ACK);
  assertEquals(acks[0].ack_number, s.rcvNxt);
  // A SYN in a synchronized state: challenge ACK, no reset (RFC 5961 §4).
  inject((s.rcvNxt + 5) >>> 0, TCP_SYN);
  assertEquals(s.state, "ESTABLISHED");
  assertEquals(b.engine.stats.challengeAcks, 2);
  // Out of window: silently dropped.
  inject((s.rcvNxt + 0x40000000) >>> 0, TCP_RST);
  assertEquals(b.engine.stats.challengeAcks, 2);
  // Data with an ACK for bytes never sent is blind injection: dropped (RFC 5961 §5).
  emit_tcp(
    seg,
    0,
    {
      src_port: p.c.conn.localPort,
      dst_port: 80,
      seq_number: s.rcvNxt,
      ack_number: (s.sndNxt + 100000) >>> 0,
      flags: TCP_ACK,
      window: 100,
    },
    0,
    pseudo(A, B),
  );
  b.engine.input(A, B, seg, 0, 20, false);
  assertEquals(b.engine.stats.drops.ack_unsent, 1);
  // The exact sequence number resets.
  inject(s.rcvNxt, TCP_RST);
  assertEquals(s.state, "CLOSED");
  assertEquals(s.error, "reset");
});

Deno.test("SYN backlog is bounded and refusals are counted", () => {
  const { net, a, b } = setup(19, {}, {}, { maxSynBacklog: 2 });
  b.engine.listen(80);
  // The clients' final ACKs never arrive, so the server's connections stay half-open.
  net.tap = (from, _to, seg) => {
    if (from === a && (seg[13] & TCP_SYN) === 0) return "drop";
  };
  for (let i = 0; i < 4; i++) a.engine.connect(B, 80);
  net.runFor(20);
  assertEquals(b.engine.stats.synBacklogRefusals, 2);
  assertEquals(b.engine.connections.length, 2);
});

Deno.test("ICMP unreachable while connecting fails with unreachable; too_big re-segments", () => {
  const { net, a, b } = setup(20, { delayMs: 5 });
  const c = new App(a.engine.connect(B, 80));
  const t = tcb(c.conn);
  const quote = new Uint8Array(8);
  quote.set([t.localPort >> 8, t.localPort & 255, 0, 80]);
  new DataView(quote.buffer).setUint32(4, t.iss);
  a.engine.icmpError("host_unreachable", A, B, quote);
  assertEquals(c.conn.error, "unreachable");
  assertEquals(c.events, ["error", "closed"]);

  const p = connectPair(net, a, b, { send: 200_000, shutdown: true });
  assert(
    net.run(() =>
      p.s() !== undefined && tcb(p.c.conn).sndMax !== tcb(p.c.conn).sndUna + 0 &&
      p.s()!.received > 10000
    ),
  );
  const ct = tcb(p.c.conn);
  a.mtu = 1280;
  const q = new Uint8Array(8);
  q.set([ct.localPort >> 8, ct.localPort & 255, 0, 80]);
  new DataView(q.buffer).setUint32(4, ct.sndUna);
  a.engine.icmpError("too_big", A, B, q);
  assertEquals(ct.mss, 1280 - 20 - 20 - 12);
  assert(net.run(() => p.s()!.eof));
  assertEquals(p.s()!.received, 200_000);
  assertEquals(p.s()!.mismatchAt, -1);
  noInternalErrors(a, b);
});

Deno.test("Nagle holds a small tail while data is unacknowledged; setNoDelay sends it", () => {
  const { net, a, b } = setup(21, { delayMs: 10 });
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  net.runFor(100);
  let segs = 0;
  net.tap = (from, _to, seg) => {
    if (from === a && seg.length > 32 + 0) segs++;
  };
  const one = new Uint8Array(10);
  p.c.conn.send(one); // goes out: nothing outstanding
  p.c.conn.send(one); // held: Nagle
  p.c.conn.send(one);
  assertEquals(segs, 1);
  net.runFor(30); // the ACK (delayed up to 40 ms + 20 ms RTT) releases the rest as one segment
  net.runFor(50);
  assertEquals(segs, 2);
  p.c.conn.setNoDelay(true);
  p.c.conn.send(one);
  p.c.conn.send(one);
  assertEquals(segs, 4);
  net.runFor(100);
  assertEquals(p.s()!.received, 50);
});

Deno.test("keepalive probes an idle peer and times out when it is gone", () => {
  const { net, a, b } = setup(22, {}, { keepAliveIntervalMs: 1000, keepAliveProbes: 3 });
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  p.c.conn.setKeepAlive(10_000);
  net.runFor(35_000); // the peer answers: still up
  assertEquals(p.c.conn.state, "ESTABLISHED");
  assertGreater(a.engine.stats.keepaliveProbes, 2);
  net.tap = () => "drop";
  const before = a.engine.stats.keepaliveProbes;
  assert(net.run(() => p.c.events.includes("closed"), 60_000));
  assertEquals(p.c.conn.error, "timeout");
  assertEquals(a.engine.stats.keepaliveProbes - before, 3);
});

Deno.test("listen on a taken port throws AddrInUse", () => {
  const { a } = setup(23);
  a.engine.listen(80);
  let threw = false;
  try {
    a.engine.listen(80, A);
  } catch (e) {
    threw = e instanceof Deno.errors.AddrInUse;
  }
  assert(threw);
});

Deno.test("snapshot/restore of a live connection continues the transfer on a new host", () => {
  const size = 1 << 20;
  const { net, a, b } = setup(24, { delayMs: 2, loss: 0.01 });
  const p = connectPair(net, a, b, { send: size, shutdown: true }, { send: size, shutdown: true });
  assert(
    net.run(() => p.s() !== undefined && p.c.received > size / 3 && p.s()!.received > size / 3),
  );
  const c = p.c;
  // Freeze A: snapshot, deep-copy as plain data, and rebuild it on a fresh host with a new clock
  // origin (its timestamp clock continues). In-flight packets to the old A still arrive at the
  // new one, as after a migration.
  const snap = structuredClone(a.engine.snapshot());
  assertEquals(snap.connections.length, 1);
  net.hosts.splice(net.hosts.indexOf(a), 1);
  net.clock.advance(7);
  const a2 = net.addHost(A);
  const { connections } = a2.engine.restore(snap);
  const t2 = tcb(connections[0]);
  const old = tcb(c.conn);
  assertEquals(t2.sndUna, old.sndUna);
  assertEquals(t2.rcvNxt, old.rcvNxt);
  const app2 = new App(connections[0], { send: size, shutdown: true });
  app2.sent = c.sent;
  app2.received = c.received;
  app2.pump();
  assert(net.run(() => app2.eof && p.s()!.eof));
  assertEquals(app2.received, size);
  assertEquals(app2.mismatchAt, -1);
  assertEquals(p.s()!.received, size);
  assertEquals(p.s()!.mismatchAt, -1);
  noInternalErrors(a2, b);
});

Deno.test("throughput: 32 MiB, no loss, in memory", () => {
  const size = 32 << 20;
  const { net, a, b } = setup(25, { delayMs: 0.5 });
  const p = connectPair(net, a, b, { send: size, shutdown: true }, { shutdown: true });
  const t0 = performance.now();
  assert(net.run(() => p.s()?.eof === true));
  const ms = performance.now() - t0;
  assertEquals(p.s()!.received, size);
  assertEquals(p.s()!.mismatchAt, -1);
  assertEquals(a.engine.stats.retransmits, 0);
  // The receiver ACKs every second full segment: no more, no less (no ACK storm).
  const dataSegs = Math.ceil(size / tcb(p.c.conn).mss);
  assertLessOrEqual(b.engine.stats.segmentsOut, dataSegs / 2 + 20);
  assertGreater(b.engine.stats.segmentsOut, dataSegs / 2 - 20);
  const mibs = 32 / (ms / 1000);
  console.log(
    `32 MiB in ${ms.toFixed(0)} ms wall = ${
      mibs.toFixed(0)
    } MiB/s; ${a.engine.stats.segmentsOut} + ${b.engine.stats.segmentsOut} segments; sim ${
      (net.clock.now() - 1000).toFixed(0)
    } ms`,
  );
  assertLessOrEqual(ms, 5000);
});

Deno.test("delayed ACK: every second full segment, else within 40 ms", () => {
  const { net, a, b } = setup(26, { delayMs: 10 });
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  net.runFor(100);
  const acks: number[] = [];
  net.tap = (from, _to, seg) => {
    if (from === b && seg.length === 32) acks.push(net.clock.now());
  };
  p.c.conn.setNoDelay(true);
  const t0 = net.clock.now();
  p.c.conn.send(new Uint8Array(100)); // one small segment: ACK waits for the 40 ms timer
  net.runFor(100);
  assertEquals(acks.length, 1);
  assertEquals(acks[0] - t0, 10 + 40);
  acks.length = 0;
  const t1 = net.clock.now();
  p.c.conn.send(new Uint8Array(4 * 1448)); // four full segments: two immediate ACKs
  net.runFor(30);
  assertEquals(acks.length, 2);
  assertEquals(acks[0] - t1, 10);
});

Deno.test("PAWS drops a segment with an old timestamp (RFC 7323 §5)", () => {
  const { net, a, b } = setup(27);
  const p = connectPair(net, a, b, { send: 5000 });
  assert(net.run(() => p.s()?.received === 5000));
  const s = tcb(p.s()!.conn);
  const c = tcb(p.c.conn);
  const seg = new Uint8Array(40);
  const hl = emit_tcp(
    seg,
    0,
    {
      src_port: c.localPort,
      dst_port: 80,
      seq_number: s.rcvNxt,
      ack_number: s.sndMax,
      flags: TCP_ACK,
      window: 1000,
      ts_val: (s.tsRecent - 1000) >>> 0,
      ts_ecr: 0,
    },
    8,
    pseudo(A, B),
  );
  b.engine.input(A, B, seg, 0, hl + 8, false);
  assertEquals(b.engine.stats.drops.paws, 1);
  assertEquals(s.rcvNxt, c.sndMax); // the 8 bytes were not taken
});

Deno.test("simultaneous close: both sides pass CLOSING to TIME-WAIT", () => {
  const { net, a, b } = setup(28, { delayMs: 5 });
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  net.runFor(50);
  p.c.conn.close();
  p.s()!.conn.close();
  net.runFor(7);
  assertEquals(p.c.conn.state, "CLOSING");
  assertEquals(p.s()!.conn.state, "CLOSING");
  net.runFor(20);
  assertEquals(p.c.conn.state, "TIME-WAIT");
  assertEquals(p.s()!.conn.state, "TIME-WAIT");
  assert(p.c.events.includes("closed"));
  net.runFor(60_000);
  assertEquals(a.engine.connections.length + b.engine.connections.length, 0);
});

Deno.test("a lost FIN is retransmitted; LAST-ACK completes", () => {
  const { net, a, b } = setup(29, { delayMs: 5 });
  const p = connectPair(net, a, b, {}, { closeOnEof: true });
  assert(net.run(() => p.s() !== undefined));
  let finsDropped = 0;
  net.tap = (from, _to, seg) => {
    if (from === b && (seg[13] & 1) && finsDropped === 0) {
      finsDropped++;
      return "drop";
    }
  };
  p.c.conn.shutdownWrite();
  assert(net.run(() => p.s()!.conn.state === "CLOSED" && p.c.eof));
  assertEquals(finsDropped, 1);
  assertEquals(p.c.conn.state, "TIME-WAIT");
  assertEquals(p.s()!.conn.error, undefined);
  assertEquals(b.engine.stats.rtoTimeouts, 1);
});

Deno.test("closing a listener resets its half-open connections", () => {
  const { net, a, b } = setup(30);
  const l = b.engine.listen(80);
  net.tap = (from, _to, seg) => {
    if (from === a && (seg[13] & TCP_SYN) === 0 && (seg[13] & TCP_RST) === 0) return "drop";
  };
  const c = new App(a.engine.connect(B, 80));
  net.runFor(3);
  assertEquals(b.engine.connections.length, 1);
  l.close();
  assertEquals(b.engine.connections.length, 0);
  net.tap = undefined;
  assert(net.run(() => c.events.includes("closed"), 10_000));
  assert(c.conn.error === "refused" || c.conn.error === "reset", String(c.conn.error));
});

Deno.test("challenge ACKs are rate-limited engine-wide (RFC 5961 §7)", () => {
  const { net, a, b } = setup(31, {}, {}, { challengeAckLimit: 3 });
  const p = connectPair(net, a, b);
  assert(net.run(() => p.s() !== undefined));
  net.runFor(50);
  const s = tcb(p.s()!.conn);
  const seg = new Uint8Array(20);
  for (let i = 0; i < 5; i++) {
    emit_tcp(
      seg,
      0,
      {
        src_port: p.c.conn.localPort,
        dst_port: 80,
        seq_number: (s.rcvNxt + 10 + i) >>> 0,
        ack_number: 0,
        flags: TCP_RST,
        window: 0,
      },
      0,
      pseudo(A, B),
    );
    b.engine.input(A, B, seg, 0, 20, false);
  }
  assertEquals(b.engine.stats.challengeAcks, 3);
  assertEquals(b.engine.stats.challengeAcksSuppressed, 2);
  assertEquals(s.state, "ESTABLISHED");
  net.runFor(1000);
  b.engine.input(A, B, seg, 0, 20, false);
  assertEquals(b.engine.stats.challengeAcks, 4);
});

Deno.test("sendIp failure counts as a loss and the timer retransmits", () => {
  const { net, a, b } = setup(32, { delayMs: 2 });
  const p = connectPair(net, a, b, {}, {});
  assert(net.run(() => p.s() !== undefined));
  net.runFor(10);
  const real = a.sendIp.bind(a);
  let fail = true;
  a.sendIp = (src, dst, proto, len) => fail ? false : real(src, dst, proto, len);
  p.c.opts.send = 3000;
  p.c.pump();
  assertGreater(a.engine.stats.ipSendFailures, 0);
  fail = false;
  assert(net.run(() => p.s()!.received === 3000));
  assertEquals(p.s()!.mismatchAt, -1);
  // With SACK a tail loss probe (RFC 8985 §7) is the timer that repairs it, before the RTO.
  assertGreater(a.engine.stats.rtoTimeouts + a.engine.stats.tlpProbes, 0);
});

Deno.test("a NIC that refuses (queue full) is back-pressure, not loss: no retransmits", () => {
  const { net, a, b } = setup(34, { delayMs: 2 });
  const p = connectPair(net, a, b, {}, {});
  assert(net.run(() => p.s() !== undefined));
  net.runFor(10);
  const real = a.sendIp.bind(a);
  // Every third segment finds the queue full (a NIC that accepts bursts of two).
  let k = 0;
  a.sendIp = (src, dst, proto, len) => {
    a.txBlocked = ++k % 3 === 0;
    return a.txBlocked ? false : real(src, dst, proto, len);
  };
  const size = 1 << 20;
  p.c.opts.send = size;
  p.c.pump();
  assert(net.run(() => p.s()!.received === size));
  assertEquals(p.s()!.mismatchAt, -1);
  assertGreater(a.engine.stats.txBlocked, 0);
  assertEquals(a.engine.stats.retransmits, 0);
  assertEquals(a.engine.stats.rtoTimeouts, 0);
});

Deno.test("without window scaling the window stays at 64 KiB and ACKs stay one per two segments", () => {
  const { net, a, b } = setup(33, { delayMs: 2 }, { windowScaling: false }, {
    windowScaling: false,
  });
  const size = 2 << 20;
  const p = connectPair(net, a, b, { send: size, shutdown: true }, { shutdown: true });
  assert(net.run(() => p.s()?.eof === true));
  assertEquals(p.s()!.received, size);
  assertEquals(tcb(p.c.conn).sndWscale, 0);
  assertLessOrEqual(tcb(p.c.conn).maxSndWnd, 65535);
  assertLessOrEqual(b.engine.stats.segmentsOut, Math.ceil(size / 1448) / 2 + 20);
  assertEquals(a.engine.stats.retransmits, 0);
});

Deno.test("a catch-all listener (port 0) accepts connections to every port without its own listener", () => {
  const { net, a, b } = setup(35, { delayMs: 1 });
  const got: Array<[number, string]> = [];
  b.engine.listen(0).onAccept = (c) => got.push([c.localPort, Array.from(c.localAddr).join(".")]);
  const own = b.engine.listen(22);
  let ownHits = 0;
  own.onAccept = () => ownHits++;
  for (const port of [80, 443, 22]) a.engine.connect(B, port);
  assert(net.run(() => got.length === 2 && ownHits === 1));
  assertEquals(got.map((g) => g[0]).sort(), [443, 80].sort());
  assertEquals(got[0][1], Array.from(B).join("."));
});

Deno.test("onSyn: the connection is handed out at its SYN; data queued then leaves once established", () => {
  const { net, a, b } = setup(41);
  const l = b.engine.listen(80);
  const early: { state: string; app: App }[] = [];
  let accepted = 0;
  l.onSyn = (conn) => {
    const app = new App(conn, { send: 3000, shutdown: true });
    early.push({ state: conn.state, app });
    app.pump(); // writes while SYN-RECEIVED: queued (RFC 9293 §3.10.2)
  };
  l.onAccept = () => accepted++;
  let synAckHadData = false;
  net.tap = (from, _to, seg) => {
    if (from === b && (seg[13] & TCP_SYN)) synAckHadData = seg.length > (seg[12] >> 4) * 4;
  };
  const c = new App(a.engine.connect(B, 80));
  assert(net.run(() => c.eof));
  assertEquals(early.length, 1);
  assertEquals(early[0].state, "SYN-RECEIVED");
  assertEquals(early[0].app.sent, 3000);
  assertEquals(accepted, 0, "not delivered a second time");
  assertEquals(c.received, 3000);
  assertEquals(c.mismatchAt, -1);
  assertEquals(synAckHadData, false, "no data before the handshake completed");
  noInternalErrors(a, b);
});

Deno.test("onSyn: a half-open connection reset by the peer reports reset and closed", () => {
  const { net, a, b } = setup(42);
  const l = b.engine.listen(80);
  let app: App | undefined;
  l.onSyn = (conn) => (app = new App(conn));
  // Lose the client's ACK of the SYN,ACK; then the client gives up with a RST.
  net.tap = (from, _to, seg) => {
    if (from === a && (seg[13] & (TCP_SYN | TCP_RST)) === 0) return "drop";
  };
  const c = a.engine.connect(B, 80);
  assert(net.run(() => app !== undefined && c.state === "ESTABLISHED"));
  c.abort();
  assert(net.run(() => app!.events.includes("closed")));
  assertEquals(app!.conn.error, "reset");
  assertEquals(app!.events.filter((e) => e === "closed").length, 1);
  assertEquals(b.engine.connections.length, 0);
  assertEquals(l.pending.length, 0, "no longer counted against the SYN backlog");
  noInternalErrors(a, b);
});

Deno.test("TIME-WAIT and CLOSED give the rings' backings back (nothing left to send or read)", () => {
  const { net, a, b } = setup(43, {}, { mslMs: 500 });
  const p = connectPair(net, a, b, { send: 2000, shutdown: true }, { send: 100, shutdown: true });
  assert(net.run(() => p.c.eof && p.s()?.eof === true));
  net.runFor(10);
  const c = tcb(p.c.conn);
  assertEquals(c.state, "TIME-WAIT");
  assertEquals([c.snd.allocated, c.rcv.allocated], [0, 0]);
  const s = tcb(p.s()!.conn);
  assert(s.state === "TIME-WAIT" || s.state === "CLOSED", s.state);
  assertEquals([s.snd.allocated, s.rcv.allocated], [0, 0]);
  assertEquals([p.c.received, p.s()!.received], [100, 2000]);
  net.runFor(1000);
  assertEquals(c.state, "CLOSED");
  assertEquals([c.snd.allocated, c.rcv.allocated], [0, 0]);
});
