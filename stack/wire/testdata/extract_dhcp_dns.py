# Print the DHCP/DNS FRAMES entries of ../_captured.ts from a pcap written by capture_dhcp_dns.sh
# (needs tshark). Reuses extract.py's hex dump loop.
import re, subprocess, sys
SEL = [
    ("dhcp_discover", "dhcp.option.dhcp==1"), ("dhcp_offer", "dhcp.option.dhcp==2"),
    ("dhcp_request", "dhcp.option.dhcp==3"), ("dhcp_ack", "dhcp.option.dhcp==5"),
    ("dhcp_release", "dhcp.option.dhcp==7"),
    ("dns_query_a", "dns.flags.response==0&&dns.qry.type==1&&dns.qry.name==\"www.weft.test\""),
    ("dns_response_cname_a", "dns.flags.response==1&&dns.qry.name==\"www.weft.test\""),
    ("dns_query_aaaa", "dns.flags.response==0&&dns.qry.type==28"),
    ("dns_response_aaaa", "dns.flags.response==1&&dns.qry.type==28"),
    ("dns_query_ptr", "dns.flags.response==0&&dns.qry.type==12"),
    ("dns_response_ptr", "dns.flags.response==1&&dns.qry.type==12"),
    ("dns_response_nxdomain", "dns.flags.rcode==3"),
]
for name, flt in SEL:
    out = subprocess.run(["tshark", "-r", sys.argv[1], "-Y", flt, "-T", "fields",
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
    print(f"  /** Frame {n}. */")
    print(f"  {name}:")
    for i in range(0, len(h), 88):
        print(f'    "{h[i:i+88]}"' + (" +" if i + 88 < len(h) else ","))
