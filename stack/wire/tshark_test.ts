/**
 * The emit side against a real peer: frames built from scratch with the emit functions (no
 * captured bytes) are written to a pcap and decoded by tshark with checksum validation on. tshark
 * must see the fields we wrote and no malformed packet or bad checksum.
 */

import { assertEquals } from "@std/assert";
import { requireTools } from "../../tests/_harness/requirements.ts";
import {
  ARP_OP_REQUEST,
  emit_arp,
  emit_ethernet,
  emit_icmpv4,
  emit_ipv4,
  emit_ipv6,
  emit_tcp,
  emit_udp,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ICMPV4_ECHO_REQUEST,
  icmpv6_fill_checksum,
  IP_PROTO_ICMP,
  IP_PROTO_ICMPV6,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  MAC_BROADCAST,
  NDP_OPT_SOURCE_LLADDR,
  parse_ipv4_addr,
  parse_ipv6_addr,
  pseudo_sum_ipv4,
  pseudo_sum_ipv6,
  TCP_SYN,
  vlan_tci,
  write_ndp_lladdr_option,
  write_ndp_mtu_option,
  write_ndp_prefix_option,
  write_ndp_ra,
  write_ndp_rdnss_option,
} from "./mod.ts";

const A = 0x02000000000a, B = 0x02000000000b;
const A4 = parse_ipv4_addr("10.55.0.1")!, B4 = parse_ipv4_addr("10.55.0.2")!;
const A6 = parse_ipv6_addr("fd55::1")!, B6 = parse_ipv6_addr("fd55::2")!;

function frames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  // 1. ARP request, 802.1Q tagged (VID 10).
  let b = new Uint8Array(46);
  let h = emit_ethernet(b, 0, MAC_BROADCAST, A, ETHERTYPE_ARP, vlan_tci(0, false, 10));
  emit_arp(b, h, ARP_OP_REQUEST, A, A4, 0, B4);
  out.push(b);
  // 2. ICMPv4 echo request with 8 data bytes.
  b = new Uint8Array(14 + 20 + 8 + 8);
  h = emit_ethernet(b, 0, B, A, ETHERTYPE_IPV4);
  b.set([1, 2, 3, 4, 5, 6, 7, 8], h + 28);
  emit_icmpv4(b, h + 20, ICMPV4_ECHO_REQUEST, 0, (0x1234 << 16) | 7, 8);
  emit_ipv4(b, h, {
    identification: 1,
    dont_fragment: true,
    ttl: 64,
    protocol: IP_PROTO_ICMP,
    src_addr: A4,
    dst_addr: B4,
  }, 16);
  out.push(b);
  // 3. UDP over IPv6 with 5 data bytes.
  b = new Uint8Array(14 + 40 + 8 + 5);
  h = emit_ethernet(b, 0, B, A, ETHERTYPE_IPV6);
  emit_ipv6(b, h, 0, 0x12345, 13, IP_PROTO_UDP, 64, A6, B6);
  b.set(new TextEncoder().encode("hello"), h + 48);
  emit_udp(b, h + 40, 40001, 40002, 5, pseudo_sum_ipv6(b, h + 8, IP_PROTO_UDP));
  out.push(b);
  // 4. TCP SYN over IPv4 with every option weft sends.
  b = new Uint8Array(14 + 20 + 40);
  h = emit_ethernet(b, 0, B, A, ETHERTYPE_IPV4);
  const tl = emit_tcp(
    b,
    h + 20,
    {
      src_port: 40000,
      dst_port: 80,
      seq_number: 0x89abcdef,
      ack_number: 0,
      flags: TCP_SYN,
      window: 65535,
      mss: 1460,
      window_scale: 7,
      sack_permitted: true,
      ts_val: 1000,
      ts_ecr: 0,
    },
    0,
    pseudo_sum_ipv4(A4, B4, IP_PROTO_TCP),
  );
  emit_ipv4(b, h, {
    identification: 2,
    dont_fragment: true,
    ttl: 64,
    protocol: IP_PROTO_TCP,
    src_addr: A4,
    dst_addr: B4,
  }, tl);
  out.push(b.subarray(0, h + 20 + tl));
  // 5. Router advertisement with SLLA, MTU, prefix and RDNSS.
  b = new Uint8Array(14 + 40 + 88);
  h = emit_ethernet(b, 0, 0x333300000001, B, ETHERTYPE_IPV6);
  const src = parse_ipv6_addr("fe80::ff:fe00:b")!, dst = parse_ipv6_addr("ff02::1")!;
  emit_ipv6(b, h, 0, 0, 88, IP_PROTO_ICMPV6, 255, src, dst);
  const o = h + 40;
  let m = write_ndp_ra(b, o, 64, 0, 1800, 0, 0);
  m += write_ndp_lladdr_option(b, o + m, NDP_OPT_SOURCE_LLADDR, B);
  m += write_ndp_mtu_option(b, o + m, 1500);
  m += write_ndp_prefix_option(b, o + m, 64, 0xc0, 86400, 14400, parse_ipv6_addr("fd55::")!);
  m += write_ndp_rdnss_option(b, o + m, 600, parse_ipv6_addr("fd55::53")!);
  icmpv6_fill_checksum(b, o, m, pseudo_sum_ipv6(b, h + 8, IP_PROTO_ICMPV6));
  out.push(b);
  return out;
}

function pcap(list: Uint8Array[]): Uint8Array {
  const size = 24 + list.reduce((a, f) => a + 16 + f.length, 0);
  const b = new Uint8Array(size);
  const d = new DataView(b.buffer);
  d.setUint32(0, 0xa1b2c3d4, true);
  d.setUint16(4, 2, true);
  d.setUint16(6, 4, true);
  d.setUint32(16, 65535, true);
  d.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  let p = 24;
  for (const f of list) {
    d.setUint32(p + 8, f.length, true);
    d.setUint32(p + 12, f.length, true);
    b.set(f, p + 16);
    p += 16 + f.length;
  }
  return b;
}

const t = requireTools(["tshark"]);
Deno.test({
  name: t.name("wire: tshark decodes frames built by the emit functions, checksums valid"),
  ignore: t.ignore,
  fn: async () => {
    const file = await Deno.makeTempFile({ suffix: ".pcap" });
    try {
      await Deno.writeFile(file, pcap(frames()));
      const fields = [
        "frame.protocols",
        "vlan.id",
        "arp.dst.proto_ipv4",
        "ip.checksum.status",
        "icmp.checksum.status",
        "icmp.ident",
        "udp.checksum.status",
        "ipv6.flow",
        "tcp.checksum.status",
        "tcp.options.mss_val",
        "tcp.options.wscale.shift",
        "tcp.options.timestamp.tsval",
        "icmpv6.checksum.status",
        "icmpv6.opt.prefix",
        "icmpv6.opt.rdnss",
        "_ws.expert.message",
      ];
      const cmd = new Deno.Command("tshark", {
        args: [
          "-r",
          file,
          "-o",
          "ip.check_checksum:TRUE",
          "-o",
          "udp.check_checksum:TRUE",
          "-o",
          "tcp.check_checksum:TRUE",
          "-T",
          "fields",
          ...fields.flatMap((f) => ["-e", f]),
        ],
        stdout: "piped",
        stderr: "piped",
      });
      const { stdout, stderr } = await cmd.output();
      const rows = new TextDecoder().decode(stdout).trim().split("\n").map((l) => l.split("\t"));
      const col = (r: number, f: string) => rows[r][fields.indexOf(f)];
      assertEquals(rows.length, 5, new TextDecoder().decode(stderr));
      assertEquals(col(0, "frame.protocols"), "eth:ethertype:vlan:ethertype:arp");
      assertEquals([col(0, "vlan.id"), col(0, "arp.dst.proto_ipv4")], ["10", "10.55.0.2"]);
      assertEquals([col(1, "ip.checksum.status"), col(1, "icmp.checksum.status")], ["1", "1"]);
      assertEquals(col(1, "icmp.ident"), "4660");
      assertEquals([col(2, "udp.checksum.status"), col(2, "ipv6.flow")], ["1", "0x012345"]);
      assertEquals([col(3, "ip.checksum.status"), col(3, "tcp.checksum.status")], ["1", "1"]);
      assertEquals(
        [col(3, "tcp.options.mss_val"), col(3, "tcp.options.wscale.shift")],
        ["1460", "7"],
      );
      assertEquals(col(3, "tcp.options.timestamp.tsval"), "1000");
      assertEquals(col(4, "icmpv6.checksum.status"), "1");
      assertEquals(col(4, "icmpv6.opt.prefix"), "fd55::");
      assertEquals(col(4, "icmpv6.opt.rdnss"), "fd55::53");
      for (let r = 0; r < rows.length; r++) {
        const ex = col(r, "_ws.expert.message") ?? "";
        assertEquals(/malformed|bad|incorrect/i.test(ex), false, `frame ${r + 1}: ${ex}`);
      }
    } finally {
      await Deno.remove(file);
    }
  },
});
