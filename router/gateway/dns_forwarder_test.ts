import { assert, assertEquals, assertThrows } from "@std/assert";
import { ManualClock, systemClock } from "../../core/clock.ts";
import { ConfigError } from "../../core/errors.ts";
import { SeededRng } from "../../core/rng.ts";
import { format_addr, type IpAddr, parse_addr } from "../../stack/addr.ts";
import type { UdpSocketCore } from "../../stack/socket_core.ts";
import {
  DNS_RCODE_NOERROR,
  DNS_RCODE_NXDOMAIN,
  DNS_RCODE_SERVFAIL,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DnsRecord,
  DnsView,
  emit_dns_query,
  write_dns_header,
  write_dns_question,
  write_dns_rr_a,
} from "../../stack/wire/dns.ts";
import { DnsForwarder, hostNames, resolvConfNameservers } from "./dns_forwarder.ts";

const A = (s: string): IpAddr => parse_addr(s)!;
const GUEST = A("10.9.0.100");

class FakeSock implements UdpSocketCore {
  readonly localAddr = A("10.9.0.1");
  readonly localPort = 53;
  sent: Array<{ data: Uint8Array; dst: string; port: number }> = [];
  onDatagram: ((data: Uint8Array, src: IpAddr, srcPort: number) => void) | undefined;
  #waiters: Array<() => void> = [];
  sendTo(data: Uint8Array, dst: IpAddr, dstPort: number): boolean {
    this.sent.push({ data: data.slice(), dst: format_addr(dst), port: dstPort });
    for (const w of this.#waiters.splice(0)) w();
    return true;
  }
  close(): void {}
  async next(timeoutMs = 5000): Promise<DnsView> {
    const end = performance.now() + timeoutMs;
    while (this.sent.length === 0) {
      if (performance.now() > end) throw new Error("no answer to the guest");
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    const s = this.sent.shift()!;
    const v = new DnsView();
    assertEquals(v.reset(s.data, 0, s.data.length), "ok");
    return v;
  }
}

function query(id: number, name: string, qtype = DNS_TYPE_A): Uint8Array {
  const b = new Uint8Array(300);
  return b.slice(0, emit_dns_query(b, 0, id, name, qtype));
}

function answers(v: DnsView): string[] {
  const out: string[] = [];
  const r = new DnsRecord();
  let o = v.answers_offset;
  for (let i = 0; i < v.ancount; i++) {
    assertEquals(r.reset(v.buf, v.offset, v.offset + v.length, o), "ok");
    out.push(
      r.type === DNS_TYPE_A
        ? format_addr(v.buf.slice(r.rdata_offset, r.rdata_offset + 4))
        : `type${r.type}`,
    );
    o = r.next;
  }
  return out;
}

const names = hostNames((label) =>
  label === "vm1" ? A("10.9.0.100") : label === "v6" ? A("fd00::5") : undefined
);

Deno.test("dns forwarder: weft. names answered locally and authoritatively; NXDOMAIN for unknown ones", async () => {
  const sock = new FakeSock();
  const fwd = new DnsForwarder({ upstream: [], names, clock: new ManualClock() });
  fwd.attach(sock);
  try {
    sock.onDatagram!(query(0x1111, "VM1.weft"), GUEST, 40000);
    let v = await sock.next();
    assertEquals([v.id, v.qr, v.aa, v.rd, v.rcode], [0x1111, true, true, true, DNS_RCODE_NOERROR]);
    assertEquals(v.qname(), "VM1.weft");
    assertEquals(answers(v), ["10.9.0.100"]);
    assertEquals(sock.sent.length, 0);
    // A known name without AAAA: NOERROR, no answer (RFC 2308 NODATA).
    sock.onDatagram!(query(2, "vm1.weft.", DNS_TYPE_AAAA), GUEST, 40000);
    v = await sock.next();
    assertEquals([v.rcode, v.ancount], [DNS_RCODE_NOERROR, 0]);
    sock.onDatagram!(query(3, "v6.weft", DNS_TYPE_AAAA), GUEST, 40000);
    v = await sock.next();
    assertEquals(answers(v), ["type28"]);
    sock.onDatagram!(query(4, "nobody.weft"), GUEST, 40000);
    v = await sock.next();
    assertEquals([v.id, v.aa, v.rcode, v.ancount], [4, true, DNS_RCODE_NXDOMAIN, 0]);
    // Outside weft. with no upstream: SERVFAIL at once.
    sock.onDatagram!(query(5, "example.com"), GUEST, 40000);
    v = await sock.next();
    assertEquals(v.rcode, DNS_RCODE_SERVFAIL);
    assertEquals(fwd.stats.nxdomain, 1);
  } finally {
    fwd.close();
  }
});

/** A fake upstream on 127.0.0.1: answers "up.example" A 192.0.2.7, ignores "slow.example". */
function fakeUpstream(opts: { spoof?: boolean } = {}) {
  const conn = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const port = (conn.addr as Deno.NetAddr).port;
  const seenIds: number[] = [];
  const loop = (async () => {
    for (;;) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await conn.receive();
      } catch {
        return;
      }
      const [q, from] = got;
      const v = new DnsView();
      if (v.reset(q, 0, q.length) !== "ok") continue;
      seenIds.push(v.id);
      const name = v.qname()!;
      if (name === "slow.example") continue;
      const b = new Uint8Array(512);
      const qlen = write_dns_question(b, 12, name, v.qtype);
      if (opts.spoof) {
        // A wrong ID first (must be ignored), then the real answer.
        write_dns_header(b, 0, (v.id + 1) & 0xffff, 0x8180, 1, 1, 0, 0);
        write_dns_rr_a(b, 12 + qlen, 12, 60, 0x01020304);
        await conn.send(b.slice(0, 12 + qlen + 16), from);
      }
      write_dns_header(b, 0, v.id, 0x8180, 1, 1, 0, 0);
      write_dns_rr_a(b, 12 + qlen, 12, 60, 0xc0000207);
      await conn.send(b.slice(0, 12 + qlen + 16), from);
    }
  })();
  return {
    port,
    seenIds,
    async close() {
      conn.close();
      await loop;
    },
  };
}

Deno.test("dns forwarder: relays to an upstream with a fresh ID, maps the answer back, ignores a wrong ID", async () => {
  const up = fakeUpstream({ spoof: true });
  const sock = new FakeSock();
  const fwd = new DnsForwarder({
    upstream: [{ hostname: "127.0.0.1", port: up.port }],
    names,
    clock: systemClock,
    rng: new SeededRng(5),
  });
  fwd.attach(sock);
  try {
    for (let i = 0; i < 5; i++) {
      sock.onDatagram!(query(0x4242, "up.example"), GUEST, 40001);
      const v = await sock.next();
      assertEquals([v.id, v.rcode], [0x4242, DNS_RCODE_NOERROR]);
      assertEquals(answers(v), ["192.0.2.7"]);
      assertEquals(sock.sent.length, 0);
    }
    assertEquals(fwd.stats.forwarded, 5);
    assertEquals(fwd.stats.answered, 5);
    assertEquals(fwd.drops.answer_unknown_id, 5);
    assertEquals(fwd.pending, 0);
    // The guest's ID never went upstream; the upstream IDs vary.
    assert(!up.seenIds.includes(0x4242));
    assert(new Set(up.seenIds).size > 1);
  } finally {
    fwd.close();
    await up.close();
  }
});

Deno.test("dns forwarder: an unanswered query gets SERVFAIL after the timeout; the pending table is bounded", async () => {
  const up = fakeUpstream();
  const sock = new FakeSock();
  const fwd = new DnsForwarder({
    upstream: [{ hostname: "127.0.0.1", port: up.port }],
    clock: systemClock,
    timeoutMs: 150,
    maxPending: 4,
  });
  fwd.attach(sock);
  try {
    const t0 = performance.now();
    for (let i = 0; i < 6; i++) sock.onDatagram!(query(100 + i, "slow.example"), GUEST, 40002);
    assertEquals(fwd.pending, 4);
    assertEquals(fwd.drops.pending_full, 2);
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      const v = await sock.next();
      assertEquals(v.rcode, DNS_RCODE_SERVFAIL);
      assertEquals(v.qname(), "slow.example");
      ids.push(v.id);
    }
    const ms = performance.now() - t0;
    assert(ms >= 140 && ms < 2000, `SERVFAIL after ${ms} ms`);
    assertEquals(ids.sort(), [100, 101, 102, 103]);
    assertEquals(fwd.pending, 0);
    assertEquals(fwd.drops.timeout, 4);
  } finally {
    fwd.close();
    await up.close();
  }
});

Deno.test("dns forwarder: malformed queries and answers never throw and are counted", () => {
  const sock = new FakeSock();
  const fwd = new DnsForwarder({ upstream: [], names, clock: new ManualClock() });
  fwd.attach(sock);
  try {
    const rng = new SeededRng(11);
    const good = query(7, "vm1.weft");
    for (let i = 0; i < 20_000; i++) {
      let b: Uint8Array;
      if (i % 2 === 0) b = rng.fill(new Uint8Array(rng.below(80)));
      else {
        b = good.slice(0, rng.below(good.length + 1));
        for (let k = 0; k < 3; k++) if (b.length > 0) b[rng.below(b.length)] = rng.u32() & 255;
      }
      fwd.input(b, GUEST, 1234, 0);
      fwd.upstreamInput(b, A("127.0.0.1"), 53, 0);
    }
    assertEquals(fwd.drops.internal_error, undefined);
    assert((fwd.drops.query_truncated ?? 0) > 0);
    assert((fwd.drops.answer_unknown_id ?? 0) + (fwd.drops.answer_truncated ?? 0) > 0);
  } finally {
    fwd.close();
  }
});

Deno.test("dns forwarder: resolv.conf parsing and bad upstreams", () => {
  assertEquals(
    resolvConfNameservers(
      "# c\nnameserver 10.0.0.53\nsearch x\nnameserver fe80::1%eth0\nnameserver bad\n",
    ),
    [{ hostname: "10.0.0.53", port: 53 }, { hostname: "fe80::1", port: 53 }],
  );
  const e = assertThrows(
    () =>
      new DnsForwarder({ upstream: [{ hostname: "dns.example", port: 53 }], clock: systemClock }),
    ConfigError,
  );
  assert(e.message.includes('"dns.example"'));
});
