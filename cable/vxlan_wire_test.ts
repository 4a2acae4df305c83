import { assertEquals } from "@std/assert";
import {
  encodeVxlan,
  MAX_VNI,
  readVxlanVni,
  VXLAN_BAD_FLAGS,
  VXLAN_HEADER_SIZE,
  VXLAN_PORT,
  VXLAN_RUNT,
  vxlanOverhead,
  writeVxlanHeader,
} from "./vxlan_wire.ts";

function bytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: clean.length / 2 },
    (_, i) => parseInt(clean.slice(2 * i, 2 * i + 2), 16),
  );
}

/**
 * Captured with `tcpdump -xx` on the underlay veth of a network namespace whose Linux `vxlan`
 * device (`ip link add vx42 type vxlan id 42 dstport 4789 remote 10.99.0.2 local 10.99.0.1`,
 * address 02:00:00:00:42:01, inner 192.168.42.1/24; kernel 6.18) sent an ARP request for
 * 192.168.42.2. tcpdump decoded it as "10.99.0.1.47061 > 10.99.0.2.4789: VXLAN, flags [I]
 * (0x08), vni 42". Outer Ethernet (14) + IPv4 (20) + UDP (8), then the VXLAN datagram.
 */
const LINUX_V4_ARP = bytes(
  "6e575bcd5f39fe3c02c42fc30800" + // outer Ethernet
    "4500004e7b6800004011ea6e0a6300010a630002" + // outer IPv4, 10.99.0.1 -> 10.99.0.2
    "b7d512b5003a1514" + // UDP 47061 -> 4789, length 58, checksum 0x1514 (Linux: udpcsum)
    "0800000000002a00" + // VXLAN: flags 0x08, VNI 42
    "ffffffffffff0200000042010806" + // inner Ethernet: broadcast <- 02:00:00:00:42:01, ARP
    "0001080006040001020000004201c0a82a01000000000000c0a82a02", // who-has .2 tell .1
);

/**
 * The same from a Linux vxlan device over IPv6 (`id 4242 remote fd99::2 local fd99::1`, address
 * 02:00:00:00:42:06): "fd99::1.47061 > fd99::2.4789: VXLAN, flags [I] (0x08), vni 4242".
 */
const LINUX_V6_ARP = bytes(
  "b2ae073ad23c6296021979bc86dd" + // outer Ethernet
    "60000000003a1140fd990000000000000000000000000001fd990000000000000000000000000002" +
    "b7d512b5003afb81" + // UDP 47061 -> 4789
    "0800000000109200" + // VXLAN: flags 0x08, VNI 0x001092 = 4242
    "ffffffffffff0200000042060806" +
    "0001080006040001020000004206c0a82b01000000000000c0a82b02",
);

function udpPayload(pkt: Uint8Array, ipHeader: number): Uint8Array {
  const udp = 14 + ipHeader;
  assertEquals((pkt[udp + 2] << 8) | pkt[udp + 3], VXLAN_PORT, "UDP destination port");
  return pkt.subarray(udp + 8);
}

Deno.test("vxlan wire: decodes the Linux vxlan device's IPv4 capture (VNI 42, inner ARP)", () => {
  const d = udpPayload(LINUX_V4_ARP, 20);
  assertEquals(readVxlanVni(d), 42);
  const inner = d.subarray(VXLAN_HEADER_SIZE);
  assertEquals(inner.length, 42); // an ARP frame without FCS or padding (RFC 7348 §5)
  assertEquals(Array.from(inner.subarray(6, 12)), [2, 0, 0, 0, 0x42, 1]);
  assertEquals((inner[12] << 8) | inner[13], 0x0806);
});

Deno.test("vxlan wire: decodes the Linux vxlan device's IPv6 capture (VNI 4242)", () => {
  const d = udpPayload(LINUX_V6_ARP, 40);
  assertEquals(readVxlanVni(d), 4242);
  assertEquals(d.length - VXLAN_HEADER_SIZE, 42);
});

Deno.test("vxlan wire: encoding reproduces the kernel's bytes exactly", () => {
  for (const [pkt, ip, vni] of [[LINUX_V4_ARP, 20, 42], [LINUX_V6_ARP, 40, 4242]] as const) {
    const d = udpPayload(pkt, ip);
    assertEquals(encodeVxlan(vni, d.subarray(VXLAN_HEADER_SIZE)), d.slice());
  }
});

Deno.test("vxlan wire: header fields, VNI edges, reserved bytes zero on send", () => {
  const buf = new Uint8Array(12).fill(0xee);
  writeVxlanHeader(buf, 2, MAX_VNI);
  assertEquals(Array.from(buf), [0xee, 0xee, 8, 0, 0, 0, 0xff, 0xff, 0xff, 0, 0xee, 0xee]);
  assertEquals(readVxlanVni(buf.subarray(2)), MAX_VNI);
  writeVxlanHeader(buf, 0, 0);
  assertEquals(readVxlanVni(buf), 0);
  writeVxlanHeader(buf, 0, 0x123456);
  assertEquals(Array.from(buf.subarray(0, 8)), [8, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
});

Deno.test("vxlan wire: malformed headers are classified, never thrown", () => {
  const good = udpPayload(LINUX_V4_ARP, 20);
  assertEquals(readVxlanVni(new Uint8Array(0)), VXLAN_RUNT);
  assertEquals(readVxlanVni(good.subarray(0, 7)), VXLAN_RUNT);
  // The header alone is a valid header (vxvde uses it as a goodbye); the caller checks the frame.
  assertEquals(readVxlanVni(good.subarray(0, 8)), 42);
  for (const flags of [0x00, 0x80, 0x0c, 0x88, 0x09, 0xff]) {
    const d = good.slice();
    d[0] = flags;
    assertEquals(readVxlanVni(d), VXLAN_BAD_FLAGS, `flags 0x${flags.toString(16)}`);
  }
  // Reserved bytes are ignored on receipt (RFC 7348 §5).
  const r = good.slice();
  r[1] =
    r[2] =
    r[3] =
    r[7] =
      0xff;
  assertEquals(readVxlanVni(r), 42);
  // Random bytes: a number back, always.
  const rnd = new Uint8Array(64);
  for (let i = 0; i < 2000; i++) {
    crypto.getRandomValues(rnd);
    const v = readVxlanVni(rnd.subarray(0, i % 64));
    assertEquals(Number.isInteger(v) && v >= VXLAN_BAD_FLAGS && v <= MAX_VNI, true);
  }
});

Deno.test("vxlan wire: overhead matches the Linux device MTUs over a 1500-byte underlay", () => {
  // The kernel set vx42's MTU to 1450 (IPv4 underlay) and vx6's to 1430 (IPv6): inner payload
  // = 1500 - outer IP - UDP - VXLAN - inner Ethernet header (14).
  assertEquals(1500 - vxlanOverhead(false) - 14, 1450);
  assertEquals(1500 - vxlanOverhead(true) - 14, 1430);
});
