# Print the FRAMES entries of ../_captured.ts from a pcap written by capture.sh (needs tshark).
import re, subprocess, sys
SEL = [
    ("mld_report_hbh", "frame.number==1"), ("ndp_rs", "icmpv6.type==133"),
    ("arp_request", "arp.opcode==1&&arp.dst.proto_ipv4==10.55.0.1"), ("arp_reply", "arp.opcode==2"),
    ("tcp_syn_raw", "tcp.flags==0x002&&tcp.dstport==7000"),
    ("tcp_sack2", "tcp.options.sack.count==2"),
    ("icmp4_echo_request", "icmp.type==8&&ip.ttl==64&&ip.flags.mf==0&&ip.frag_offset==0"),
    ("icmp4_echo_reply", "icmp.type==0&&ip.flags.mf==0&&ip.frag_offset==0"),
    ("ndp_ns", "icmpv6.type==135&&ipv6.src==fd55::1"), ("ndp_na", "icmpv6.type==136&&ipv6.src==fd55::2"),
    ("icmp6_echo_request", "icmpv6.type==128&&ipv6.hlim==64&&!ipv6.fraghdr"),
    ("icmp6_echo_reply", "icmpv6.type==129&&!ipv6.fraghdr"),
    ("icmp4_time_exceeded", "icmp.type==11"), ("icmp6_time_exceeded", "icmpv6.type==3"),
    ("ipv4_frag1", "ip.flags.mf==1&&ip.frag_offset==0&&ip.src==10.55.0.1"),
    ("ipv4_frag2", "ip.flags.mf==1&&ip.frag_offset==185&&ip.src==10.55.0.1"),
    ("ipv4_frag3", "ip.flags.mf==0&&ip.frag_offset==370&&ip.src==10.55.0.1"),
    ("ipv6_frag1", "ipv6.fraghdr.offset==0&&ipv6.fraghdr.more==1&&ipv6.src==fd55::1"),
    ("udp4", "ip&&udp.dstport==9999&&!icmp"), ("icmp4_port_unreachable", "icmp.type==3&&icmp.code==3"),
    ("udp6", "ipv6&&udp.dstport==9999&&!icmpv6"), ("icmp6_port_unreachable", "icmpv6.type==1"),
    ("ndp_ra", "icmpv6.type==134"),
    ("tcp4_syn", "ip&&tcp.flags==0x002&&tcp.dstport==8080"),
    ("tcp4_synack", "ip&&tcp.flags==0x012&&tcp.srcport==8080"),
    ("tcp4_ack", "ip&&tcp.flags==0x010&&tcp.dstport==8080&&tcp.len==0"),
    ("tcp6_syn", "ipv6&&tcp.flags==0x002"), ("tcp6_synack", "ipv6&&tcp.flags==0x012"),
]
for name, flt in SEL:
    out = subprocess.run(["tshark", "-r", sys.argv[1], "-Y", flt, "-c", "100000", "-T", "fields",
                          "-e", "frame.number"], capture_output=True, text=True).stdout.split()
    n = out[0]
    raw = subprocess.run(["tshark", "-r", sys.argv[1], "-Y", f"frame.number=={n}", "-x"],
                         capture_output=True, text=True).stdout
    h = ""
    for line in raw.split("\n"):
        m = re.match(r"^([0-9a-f]{4})  ((?:[0-9a-f]{2} ){1,16})", line)
        if m and int(m.group(1), 16) == len(h) // 2:
            h += m.group(2).replace(" ", "")
        elif h:
            break
    print(f'  {name}: "{h}", // frame {n}')
