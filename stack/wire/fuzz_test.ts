/**
 * 100,000 random and mutated buffers through every parser (ARCHITECTURE §5: malformed input never
 * throws). Seeded, so a failure names a reproducible case.
 */

import { assert, assertGreater } from "@std/assert";
import { SeededRng } from "../../core/rng.ts";
import { EthernetView } from "./ethernet.ts";
import { ArpView } from "./arp.ts";
import { Ipv4View } from "./ipv4.ts";
import { Ipv6View } from "./ipv6.ts";
import { Icmpv4View } from "./icmpv4.ts";
import { Icmpv6View } from "./icmpv6.ts";
import { UdpView } from "./udp.ts";
import { TcpView } from "./tcp.ts";
import { DhcpView } from "./dhcp.ts";
import { DnsView } from "./dns.ts";
import { FRAMES, hex } from "./_captured.ts";

const eth = new EthernetView(), arp = new ArpView(), ip4 = new Ipv4View(), ip6 = new Ipv6View();
const icmp4 = new Icmpv4View(), icmp6 = new Icmpv6View(), udp = new UdpView(), tcp = new TcpView();
const dhcp = new DhcpView(), dns = new DnsView();

/** DHCP and DNS on a UDP payload, exercising the getters that walk options and names. */
function apps(b: Uint8Array, o: number, l: number, note: (r: string) => void): void {
  const rd = dhcp.reset(b, o, l);
  note("dhcp:" + rd);
  if (rd === "ok") void (dhcp.option(61) + dhcp.option(200) + dhcp.dns_count + dhcp.xid);
  const rn = dns.reset(b, o, l);
  note("dns:" + rn);
  if (rn === "ok" && dns.qdcount > 0) void (dns.qtype + (dns.qname() ?? "").length);
}

/** Every parser on `b`: layered as a receiver would, then each directly at a random offset. */
function all(b: Uint8Array, rng: SeededRng, reasons: Map<string, number>): void {
  const note = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
  if (eth.reset(b) === "ok") {
    const p = eth.payload_offset, n = eth.payload_len;
    note(arp.reset(b, p, n));
    if (ip4.reset(b, p, n, rng.below(2) === 0) === "ok") {
      const o = ip4.payload_offset, l = ip4.payload_len, ps = ip4.pseudo_sum();
      note(icmp4.reset(b, o, l));
      note(udp.reset(b, o, l, ps));
      if (udp.reset(b, o, l, -1) === "ok") apps(b, udp.payload_offset, udp.payload_len, note);
      note(tcp.reset(b, o, l, ps));
      if (icmp4.reset(b, o, l) === "ok") note(ip4.reset(b, icmp4.data_offset, icmp4.data_len));
    } else note(ip4.reset(b, p, n));
    if (ip6.reset(b, p, n) === "ok") {
      const o = ip6.upper_offset, l = ip6.upper_len, ps = rng.below(2) ? ip6.pseudo_sum() : -1;
      note(icmp6.reset(b, o, l, ps));
      note(udp.reset(b, o, l, ps, true));
      note(tcp.reset(b, o, l, ps));
      // Getters read within the validated bounds; exercise them.
      void (icmp6.source_lladdr + icmp6.mtu + tcp.sack_count + ip6.fragment_offset);
    } else note(ip6.reset(b, p, n));
  } else note("eth:" + eth.reset(b));
  // Direct, at an arbitrary (possibly out-of-range) offset and length.
  const o = rng.below(b.length + 4) - 2, l = rng.below(b.length + 8) - 4;
  note(arp.reset(b, o, l));
  note(ip4.reset(b, o, l));
  note(ip6.reset(b, o, l));
  note(icmp4.reset(b, o, l));
  note(icmp6.reset(b, o, l, rng.below(70000) - 1));
  note(udp.reset(b, o, l, rng.below(70000) - 1, rng.below(2) === 0));
  note(tcp.reset(b, o, l, rng.below(70000) - 1));
  apps(b, o, l, note);
}

Deno.test("fuzz: 100,000 random and mutated buffers through every parser: nothing throws", () => {
  const rng = new SeededRng(5);
  const seeds = Object.values(FRAMES).map(hex);
  const reasons = new Map<string, number>();
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    let b: Uint8Array;
    const kind = i % 4;
    if (kind === 0) {
      b = rng.fill(new Uint8Array(rng.below(200)));
    } else {
      const s = seeds[rng.below(seeds.length)];
      b = s.slice(0, kind === 1 ? rng.below(s.length + 1) : s.length);
      const flips = 1 + rng.below(kind === 3 ? 16 : 3);
      for (let j = 0; j < flips && b.length > 0; j++) {
        const at = rng.below(b.length);
        b[at] = kind === 3 ? rng.below(256) : b[at] ^ (1 << rng.below(8));
      }
    }
    try {
      all(b, rng, reasons);
    } catch (e) {
      throw new Error(
        `case ${i} threw: ${e}; buffer ${
          Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
        }`,
      );
    }
  }
  // The mutations reach the interesting refusals, and still many valid packets.
  for (
    const r of [
      "ok",
      "truncated",
      "bad_checksum",
      "bad_version",
      "bad_option",
      "bad_ihl",
      "bad_ext",
      "dhcp:ok",
      "dhcp:bad_option",
      "dns:ok",
      "dns:truncated",
      "dns:bad_label",
      "dns:bad_pointer",
      "dhcp:bad_cookie",
    ]
  ) {
    assert((reasons.get(r) ?? 0) > 0, `no "${r}" in ${JSON.stringify([...reasons])}`);
  }
  assertGreater(reasons.get("ok") ?? 0, 10_000);
});
