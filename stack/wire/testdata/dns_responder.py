# A tiny UDP DNS responder for capture_dhcp_dns.sh: answers from a fixed table (RFC 1035 §4.1),
# owner names of answers as compression pointers to the question (0xc00c). Usage: ADDR [PORT].
import socket, struct, sys
A = {"weft.test": "10.56.0.80"}
AAAA = {"weft.test": "fd56::80"}
CNAME = {"www.weft.test": "weft.test"}
PTR = {"80.0.56.10.in-addr.arpa": "weft.test"}

def name_wire(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"

def rr(owner, t, data, ttl=300):
    return owner + struct.pack("!HHIH", t, 1, ttl, len(data)) + data

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 53))
while True:
    q, peer = s.recvfrom(512)
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    o, labels = 12, []
    while q[o]:
        labels.append(q[o + 1:o + 1 + q[o]].decode()); o += 1 + q[o]
    qname = ".".join(labels).lower(); qtype, = struct.unpack("!H", q[o + 1:o + 3])
    question = q[12:o + 5]
    ans, rcode, owner, target = [], 0, b"\xc0\x0c", qname
    if qname in CNAME:
        target = CNAME[qname]
        ans.append(rr(owner, 5, name_wire(target)))
        owner = struct.pack("!H", 0xc000 | (12 + len(question) + 12))  # the CNAME's rdata
    if qtype == 1 and target in A:
        ans.append(rr(owner, 1, socket.inet_aton(A[target])))
    elif qtype == 28 and target in AAAA:
        ans.append(rr(owner, 28, socket.inet_pton(socket.AF_INET6, AAAA[target])))
    elif qtype == 12 and qname in PTR:
        ans.append(rr(owner, 12, name_wire(PTR[qname])))
    elif not ans and qname not in A and qname not in PTR:
        rcode = 3
    # QR, opcode copied, AA, RD copied, RA
    rf = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
    s.sendto(struct.pack("!HHHHHH", qid, rf, 1, len(ans), 0, 0) + question + b"".join(ans), peer)
