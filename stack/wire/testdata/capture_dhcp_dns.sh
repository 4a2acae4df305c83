#!/bin/bash
# Captures the DHCP and DNS entries of stack/wire/_captured.ts (root; iproute2, tcpdump, busybox,
# python3, getent). Usage: capture_dhcp_dns.sh [WORKDIR]; writes WORKDIR/pcaps/dhcp_dns.pcap.
# Then `python3 extract_dhcp_dns.py WORKDIR/pcaps/dhcp_dns.pcap` prints the hex entries.
# Namespaces S (server: busybox udhcpd + testdata/dns_responder.py at 10.56.0.1) and C (client:
# busybox udhcpc, then glibc's resolver via getent with /etc/netns/C/resolv.conf -> 10.56.0.1),
# joined by a veth pair vs/vc; namespaces and /etc/netns/C are removed on exit.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
W=${1:-/tmp/swdd}
S=swdds-$$; C=swddc-$$
D=$W/pcaps; rm -rf $D; mkdir -p $D
cleanup(){ kill $DP $UP 2>/dev/null; ip netns del $S 2>/dev/null; ip netns del $C 2>/dev/null; rm -rf /etc/netns/$C; }
DP=; UP=
trap cleanup EXIT
ip netns add $S; ip netns add $C
ip -n $S link set lo up; ip -n $C link set lo up
ip link add vs netns $S address 02:00:00:00:00:5a type veth peer name vc netns $C address 02:00:00:00:00:5c
ip netns exec $S python3 "$HERE/txcsum_off.py" vs
ip netns exec $C python3 "$HERE/txcsum_off.py" vc
ip -n $S addr add 10.56.0.1/24 dev vs
ip -n $S link set vs up; ip -n $C link set vc up
cat > $W/udhcpd.conf <<CONF
start 10.56.0.100
end 10.56.0.150
interface vs
lease_file $W/udhcpd.leases
opt subnet 255.255.255.0
opt router 10.56.0.1
opt dns 10.56.0.1 10.56.0.53
opt domain weft.test
opt mtu 1400
opt lease 3600
CONF
: > $W/udhcpd.leases
ip netns exec $S tcpdump -U --immediate-mode -s 0 -i vs -w $D/dhcp_dns.pcap 2>$D/tcpdump.err &
TP=$!
sleep 1
ip netns exec $S busybox udhcpd -f $W/udhcpd.conf >$D/udhcpd.log 2>&1 &
UP=$!
sleep 0.5
# DISCOVER/OFFER/REQUEST/ACK, then RELEASE on SIGTERM (-R); -O mtu asks for option 26 too
ip netns exec $C busybox udhcpc -f -R -i vc -s "$HERE/udhcpc_script.sh" -O mtu -t 5 -T 1 >$D/udhcpc.log 2>&1 &
CP=$!
sleep 5; kill -TERM $CP; wait $CP
ip netns exec $S python3 "$HERE/dns_responder.py" 10.56.0.1 &
DP=$!
mkdir -p /etc/netns/$C; echo "nameserver 10.56.0.1" > /etc/netns/$C/resolv.conf
sleep 2
ip netns exec $C getent ahostsv4 www.weft.test   # A query; answer CNAME + A
ip netns exec $C getent ahostsv6 weft.test       # AAAA query
ip netns exec $C getent hosts 10.56.0.80         # PTR query
ip netns exec $C getent ahostsv4 nx.weft.test    # NXDOMAIN
sleep 0.5
sleep 1; kill $TP; wait $TP 2>/dev/null
ls -la $D
