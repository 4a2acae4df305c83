#!/bin/bash
# Captures the frames of stack/wire/_captured.ts (run as root; needs iproute2, tcpdump, ping,
# socat, curl, python3). Usage: capture.sh [WORKDIR]; writes WORKDIR/pcaps/all.pcap, then
# `python3 extract.py WORKDIR/pcaps/all.pcap` prints the hex entries.
# Two namespaces A and B joined by a veth pair (va/vb), both removed on exit.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
W=${1:-/tmp/sw5}
A=sw5a-$$; B=sw5b-$$
D=$W/pcaps; rm -rf $D; mkdir -p $D
cleanup(){ ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; }
trap cleanup EXIT
ip netns add $A; ip netns add $B
ip -n $A link set lo up; ip -n $B link set lo up
ip link add va netns $A address 02:00:00:00:00:0a type veth peer name vb netns $B address 02:00:00:00:00:0b
ip netns exec $A python3 "$HERE/txcsum_off.py" va
ip netns exec $B python3 "$HERE/txcsum_off.py" vb
ip -n $A addr add 10.55.0.1/24 dev va; ip -n $B addr add 10.55.0.2/24 dev vb
ip -n $A addr add fd55::1/64 dev va nodad; ip -n $B addr add fd55::2/64 dev vb nodad
# capture on vb from before va comes up, to get MLD reports (Hop-by-Hop header) and DAD NS
ip -n $B link set vb up
ip netns exec $B tcpdump -U -s 0 -i vb -w $D/all.pcap 2>$D/tcpdump.err &
TP=$!
sleep 1
ip -n $A link set va up
sleep 2
# SACK: raw peer in B against socat in A
ip -n $A neigh add 10.55.0.3 lladdr 02:00:00:00:00:0b dev va
ip netns exec $A socat -u TCP-LISTEN:7000,reuseaddr OPEN:/dev/null &
SP=$!
sleep 0.5
ip netns exec $B timeout 10 python3 "$HERE/sack_peer.py"
sleep 0.3; kill $SP 2>/dev/null
# forwarding in B, routing the far nets back out vb: TTL 1 expires at B -> time exceeded
ip netns exec $B sysctl -qw net.ipv4.ip_forward=1
ip netns exec $B sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n $B route add 10.99.0.0/24 via 10.55.0.1
ip -n $B -6 route add fd99::/64 via fd55::1
ip -n $A route add 10.99.0.0/24 via 10.55.0.2
ip -n $A -6 route add fd99::/64 via fd55::2
ip netns exec $A ping -c1 -W1 10.55.0.2 >/dev/null        # ARP req/reply + echo v4
ip netns exec $A ping -6 -c1 -W1 fd55::2 >/dev/null       # NS/NA + echo v6
ip netns exec $A ping -c1 -W1 -t 1 10.99.0.5 >/dev/null   # time exceeded v4
ip netns exec $A ping -6 -c1 -W1 -t 1 fd99::5 >/dev/null  # time exceeded v6
ip netns exec $A ping -c1 -W1 -s 3000 10.55.0.2 >/dev/null   # ipv4 fragments
ip netns exec $A ping -6 -c1 -W1 -s 3000 fd55::2 >/dev/null  # ipv6 fragment header
ip netns exec $A python3 -c "
import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.sendto(b'hello weft',('10.55.0.2',9999))
s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); s.sendto(b'hello weft6',('fd55::2',9999))
"   # udp + port unreachable v4/v6
sleep 0.5
# RA from B: crafted with python3 raw ICMPv6 socket (kernel fills checksum), link-local src
ip netns exec $B python3 -c "
import socket,struct
s=socket.socket(socket.AF_INET6,socket.SOCK_RAW,socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex('vb'))
ra=struct.pack('!BBHBBHII',134,0,0,64,0x00,1800,0,0)
sll=struct.pack('!BB6s',1,1,bytes.fromhex('02000000000b'))
mtu=struct.pack('!BBHI',5,1,0,1500)
pfx=struct.pack('!BBBBIII16s',3,4,64,0xc0,86400,14400,0,bytes.fromhex('fd550000000000000000000000000000'))
rdnss=struct.pack('!BBHI16s',25,3,0,600,bytes.fromhex('fd550000000000000000000000000053'))
s.sendto(ra+sll+mtu+pfx+rdnss,('ff02::1',0,0,socket.if_nametoindex('vb')))
"
sleep 0.5
# TCP: http server in B, curl from A (handshakes with MSS, SACK-permitted, timestamps, WS)
mkdir -p $W/www; head -c 200000 /dev/urandom > $W/www/f.bin
ip netns exec $B python3 -m http.server -d $W/www 8080 --bind :: >/dev/null 2>&1 &
HP=$!
sleep 1
ip netns exec $A curl -s -o /dev/null http://10.55.0.2:8080/f.bin
ip netns exec $A curl -s -o /dev/null "http://[fd55::2]:8080/f.bin"
sleep 0.5
kill $HP
sleep 0.5
kill $TP; wait $TP 2>/dev/null
ls -la $D
