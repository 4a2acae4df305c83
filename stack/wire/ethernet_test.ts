import { assert, assertEquals } from "@std/assert";
import {
  emit_ethernet,
  EthernetView,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  format_mac,
  is_group_mac,
  mac_at,
  MAC_BROADCAST,
  parse_ethernet,
  parse_mac,
  vlan_tci,
  write_mac,
} from "./ethernet.ts";
import { frame } from "./_captured.ts";

Deno.test("ethernet: captured ARP broadcast parses and re-emits byte-exact", () => {
  const f = frame("arp_request");
  const v = parse_ethernet(f)!;
  assertEquals(v.dst_addr, MAC_BROADCAST);
  assertEquals(format_mac(v.src_addr), "02:00:00:00:00:0b");
  assertEquals(v.ethertype, ETHERTYPE_ARP);
  assertEquals([v.header_len, v.payload_offset, v.payload_len, v.vid, v.pcp, v.dei], [
    14,
    14,
    28,
    -1,
    -1,
    false,
  ]);
  const out = new Uint8Array(14);
  assertEquals(emit_ethernet(out, 0, v.dst_addr, v.src_addr, v.ethertype), 14);
  assertEquals(out, f.subarray(0, 14));
});

Deno.test("ethernet: IPv4 and IPv6 frames give their EtherTypes", () => {
  assertEquals(parse_ethernet(frame("icmp4_echo_request"))!.ethertype, ETHERTYPE_IPV4);
  assertEquals(parse_ethernet(frame("ndp_ns"))!.ethertype, ETHERTYPE_IPV6);
  assert(is_group_mac(parse_ethernet(frame("ndp_ns"))!.dst_addr)); // 33:33:ff:00:00:02
  assert(!is_group_mac(parse_ethernet(frame("ndp_na"))!.dst_addr));
});

Deno.test("ethernet: an 802.1Q tag (inserted into the captured echo request)", () => {
  // No 8021q module on the capture host: the tag is inserted by hand after the MACs, as a
  // switch's trunk port would (TPID 0x8100, PCP 5, DEI 1, VID 10).
  const plain = frame("icmp4_echo_request");
  const tagged = new Uint8Array(plain.length + 4);
  tagged.set(plain.subarray(0, 12));
  tagged.set([0x81, 0x00, 0xb0, 0x0a], 12);
  tagged.set(plain.subarray(12), 16);
  const v = parse_ethernet(tagged)!;
  assertEquals([v.vid, v.pcp, v.dei, v.tci], [10, 5, true, 0xb00a]);
  assertEquals([v.ethertype, v.header_len, v.payload_offset], [ETHERTYPE_IPV4, 18, 18]);
  const out = new Uint8Array(18);
  assertEquals(
    emit_ethernet(out, 0, v.dst_addr, v.src_addr, ETHERTYPE_IPV4, vlan_tci(5, true, 10)),
    18,
  );
  assertEquals(out, tagged.subarray(0, 18));
  for (let n = 0; n < 18; n++) {
    assertEquals(new EthernetView().reset(tagged, 0, n), "truncated", `length ${n}`);
  }
});

Deno.test("ethernet: truncated at every length below the header, and out-of-range offsets", () => {
  const f = frame("arp_request");
  const v = new EthernetView();
  for (let n = 0; n < 14; n++) assertEquals(v.reset(f.subarray(0, n)), "truncated");
  assertEquals(v.reset(f, 40, 14), "truncated");
  assertEquals(v.reset(f, -1, 14), "truncated");
  assertEquals(v.reset(f, 0, 14), "ok");
});

Deno.test("ethernet: MAC helpers round-trip", () => {
  const b = new Uint8Array(8);
  for (
    const s of ["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "02:00:5e:10:00:01", "81:23:45:67:89:ab"]
  ) {
    const m = parse_mac(s)!;
    assertEquals(format_mac(m), s);
    write_mac(b, 1, m);
    assertEquals(mac_at(b, 1), m);
  }
  assertEquals(parse_mac("02-00-5E-10-00-01"), 0x02005e100001);
  assertEquals(parse_mac("02:00:5e:10:00"), undefined);
  assert(is_group_mac(0x010000000000) && !is_group_mac(0x020000000000));
});
