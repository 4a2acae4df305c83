/**
 * `deno task bench router`: weft router forwarding rate in process — frames injected into one
 * interface's sink, forwarded (TTL, checksum, LPM, one copy) and counted at the other
 * interface's endpoint. 64-byte and 1500-byte IP packets, IPv4 and IPv6; one core.
 */

import type { Endpoint, FrameSink } from "../core/endpoint.ts";
import { FrameCounters } from "../core/counters.ts";
import { ManualClock } from "../core/clock.ts";
import { parse_addr, parse_cidr } from "../stack/addr.ts";
import {
  ARP_OP_REPLY,
  emit_arp,
  emit_ethernet,
  emit_ipv4,
  emit_ipv6,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  icmpv6_fill_checksum,
  IP_PROTO_ICMPV6,
  NDP_NA_OVERRIDE,
  NDP_NA_SOLICITED,
  NDP_NEIGHBOR_ADVERT,
  pseudo_sum_ipv6_addrs,
  write_ndp_neighbor,
} from "../stack/wire/mod.ts";
import { Router } from "../router/router.ts";
import { fmt, medianOf, table } from "./stats.ts";

const R1 = 0x020000000101, R2 = 0x020000000102, H1 = 0x02000000000a, H2 = 0x02000000000b;

/** An endpoint whose sink we call directly; sends are counted (and ARP/NS answered for H2). */
class BenchEnd implements Endpoint {
  readonly url = "bench:";
  readonly mtu = 1514;
  readonly closed = new Promise<void>(() => {});
  sink: FrameSink = () => {};
  sent = 0;
  answer: ((f: Uint8Array) => void) | undefined;
  #c = new FrameCounters();
  send(frame: Uint8Array): boolean {
    this.sent++;
    if ((frame[12] === 8 && frame[13] === 6) || (frame[12] === 0x86 && frame[54] === 135)) {
      this.answer?.(frame);
    }
    return true;
  }
  setSink(s: FrameSink): void {
    this.sink = s;
  }
  close(): void {}
  stats() {
    return this.#c;
  }
}

function run(bytes: number, v6: boolean, ms: number): number {
  const e1 = new BenchEnd(), e2 = new BenchEnd();
  const clock = new ManualClock(1000);
  const router = new Router({
    clock,
    timers: "manual",
    interfaces: [
      {
        name: "a",
        endpoint: e1,
        mac: R1,
        ipv4: parse_cidr("10.1.0.1/24"),
        ipv6: parse_cidr("fd01::1/64"),
      },
      {
        name: "b",
        endpoint: e2,
        mac: R2,
        ipv4: parse_cidr("10.2.0.1/24"),
        ipv6: parse_cidr("fd02::1/64"),
      },
    ],
  });
  // H2 answers ARP and NS at once (the stack queues answers that arrive while it transmits).
  e2.answer = (q) => {
    if (q[12] === 8) {
      const r = new Uint8Array(42);
      emit_ethernet(r, 0, R2, H2, ETHERTYPE_ARP);
      emit_arp(r, 14, ARP_OP_REPLY, H2, 0x0a020002, R2, 0x0a020001);
      e2.sink(r);
      return;
    }
    const r = new Uint8Array(14 + 40 + 32);
    const me = parse_addr("fd02::2")!, to = q.slice(22, 38);
    const n = write_ndp_neighbor(
      r,
      54,
      NDP_NEIGHBOR_ADVERT,
      NDP_NA_SOLICITED | NDP_NA_OVERRIDE,
      me,
      H2,
    );
    icmpv6_fill_checksum(r, 54, n, pseudo_sum_ipv6_addrs(me, to, IP_PROTO_ICMPV6));
    emit_ipv6(r, 14, 0, 0, n, IP_PROTO_ICMPV6, 255, me, to);
    emit_ethernet(r, 0, R2, H2, ETHERTYPE_IPV6);
    e2.sink(r.subarray(0, 54 + n));
  };
  const f = new Uint8Array(14 + bytes);
  emit_ethernet(f, 0, R1, H1, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
  if (v6) {
    emit_ipv6(f, 14, 0, 0, bytes - 40, 17, 64, parse_addr("fd01::2")!, parse_addr("fd02::2")!);
  } else {
    emit_ipv4(f, 14, {
      identification: 1,
      dont_fragment: true,
      ttl: 64,
      protocol: 17,
      src_addr: 0x0a010002,
      dst_addr: 0x0a020002,
    }, bytes - 20);
  }
  // Duplicate address detection of the router's IPv6 addresses (RFC 4862 §5.4), then the first
  // packet resolves H2; poll hands the queued answer to the stack. Then a JIT warm-up.
  clock.advance(2000);
  router.poll();
  e1.sink(f);
  router.poll();
  for (let i = 0; i < 20_000; i++) e1.sink(f);
  router.poll();
  const start = router.stats.forwarded4 + router.stats.forwarded6;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 1000; i++) e1.sink(f);
    n += 1000;
  }
  const secs = (performance.now() - t0) / 1000;
  const done = router.stats.forwarded4 + router.stats.forwarded6 - start;
  router.close();
  return Math.min(done, n) / secs;
}

export async function routerBench(runs: number): Promise<string> {
  const rows: (string | number)[][] = [];
  for (const v6 of [false, true]) {
    for (const bytes of [64, 1500]) {
      const rate = await medianOf(runs, () => run(bytes, v6, 400));
      rows.push([
        v6 ? "IPv6" : "IPv4",
        bytes,
        `${fmt(rate)}/s`,
        ((rate * bytes * 8) / 1e9).toFixed(2),
      ]);
    }
  }
  return `### weft router forwarding, in process (median of ${runs}, one core)\n\n` +
    table(["family", "IP packet B", "packets/s", "Gbit/s"], rows);
}
