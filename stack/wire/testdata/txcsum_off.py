# Turn off TX checksum offload on an interface (what `ethtool -K IF tx off` does), so captured
# TCP/UDP checksums are complete rather than CHECKSUM_PARTIAL pseudo-header sums.
import array, fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ev = array.array('I', [0x17, 0])  # ETHTOOL_STXCSUM, data 0
ifr = struct.pack('16sP', sys.argv[1].encode(), ev.buffer_info()[0])
fcntl.ioctl(s.fileno(), 0x8946, ifr)  # SIOCETHTOOL
