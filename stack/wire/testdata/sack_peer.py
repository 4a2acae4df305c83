# A tiny raw TCP peer in namespace B (source 10.55.0.3, an address no kernel owns, so B's kernel
# does not reset it). It opens a connection to A's kernel and sends out-of-order segments, so A's
# kernel answers with duplicate ACKs carrying SACK blocks (RFC 2018).
import socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
SRC = socket.inet_aton('10.55.0.3'); DST = socket.inet_aton('10.55.0.1')
def seg(seq, ack, flags, opts=b'', data=b''):
    off = (20 + len(opts)) // 4
    h = struct.pack('!HHIIBBHHH', 40000, 7000, seq, ack, off << 4, flags, 64240, 0, 0) + opts
    c = csum(SRC + DST + struct.pack('!BBH', 0, 6, len(h) + len(data)) + h + data)
    h = h[:16] + struct.pack('!H', c) + h[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(h) + len(data), 1, 0x4000, 64, 6, 0, SRC, DST)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return ip + h + data
tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800)); rx.bind(('vb', 0)); rx.settimeout(2)
def send(p): tx.sendto(p, ('10.55.0.1', 0))
def recv():
    while True:
        ip = rx.recv(4000)[14:]
        if ip[9] == 6 and ip[12:16] == DST and ip[16:20] == SRC:
            return ip[(ip[0] & 15) * 4:]
isn = 1000
send(seg(isn, 0, 0x02, bytes([2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1])))
sa = recv(); s = struct.unpack('!I', sa[4:8])[0]
send(seg(isn + 1, s + 1, 0x10))
time.sleep(0.05)
send(seg(isn + 101, s + 1, 0x18, data=b'b' * 100)); recv()
send(seg(isn + 301, s + 1, 0x18, data=b'd' * 100)); recv()
send(seg(isn + 1, s + 1, 0x18, data=b'a' * 100)); recv()
send(seg(isn + 401, s + 1, 0x11)); 
time.sleep(0.2)
