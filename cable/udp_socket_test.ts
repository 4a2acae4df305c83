import { assert, assertEquals } from "@std/assert";
import {
  fdOfUdpSocket,
  formatSockaddr,
  ipBytes,
  ipText,
  sockaddr,
  SOCKADDR_IN6_SIZE,
  SOCKADDR_IN_SIZE,
} from "./udp_socket.ts";

Deno.test("udp_socket: IP literals to bytes and back", () => {
  assertEquals(Array.from(ipBytes("10.99.0.1")!), [10, 99, 0, 1]);
  assertEquals(ipBytes("256.0.0.1"), undefined);
  assertEquals(ipBytes("vtep.example.org"), undefined);
  assertEquals(ipBytes("1.2.3"), undefined);
  assertEquals(ipBytes("fd00::1:2"), Uint8Array.from([0xfd, 0, ...Array(11).fill(0), 1, 0, 2]));
  assertEquals(ipBytes("[ff05:56de::1]"), ipBytes("ff05:56de:0:0:0:0:0:1"));
  assertEquals(ipBytes("::"), new Uint8Array(16));
  assertEquals(Array.from(ipBytes("::ffff:10.0.0.1")!.subarray(10)), [0xff, 0xff, 10, 0, 0, 1]);
  assertEquals(ipBytes("fd00::1::2"), undefined);
  assertEquals(ipBytes("fd00:xyz::1"), undefined);
  for (const t of ["10.99.0.1", "fd00::1", "ff05:56de::1", "::", "2001:db8:1:2:3:4:5:6"]) {
    assertEquals(ipText(ipBytes(t)!), t);
  }
});

Deno.test("udp_socket: sockaddr_in / sockaddr_in6 layout (glibc netinet/in.h)", () => {
  const v4 = sockaddr(ipBytes("10.99.0.1")!, 4789);
  assertEquals(v4.length, SOCKADDR_IN_SIZE);
  assertEquals(Array.from(v4), [2, 0, 0x12, 0xb5, 10, 99, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals(formatSockaddr(v4), "10.99.0.1:4789");
  const v6 = sockaddr(ipBytes("fd00::2")!, 4789);
  assertEquals(v6.length, SOCKADDR_IN6_SIZE);
  assertEquals(Array.from(v6.subarray(0, 8)), [10, 0, 0x12, 0xb5, 0, 0, 0, 0]);
  assertEquals(v6[8], 0xfd);
  assertEquals(v6[23], 2);
  assertEquals(formatSockaddr(v6), "[fd00::2]:4789");
});

Deno.test("udp_socket: finds the descriptor of a Deno UDP socket by address and port", () => {
  const a = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (a.addr as Deno.NetAddr).port;
  const b = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.2", port });
  try {
    const fa = fdOfUdpSocket("127.0.0.1", port);
    const fb = fdOfUdpSocket("127.0.0.2", port);
    assert(fa !== undefined && fb !== undefined && fa !== fb, `${fa} ${fb}`);
    assertEquals(fdOfUdpSocket("127.0.0.3", port), undefined);
  } finally {
    a.close();
    b.close();
  }
  const c = Deno.listenDatagram({ transport: "udp", hostname: "::1", port: 0 });
  try {
    assert(fdOfUdpSocket("::1", (c.addr as Deno.NetAddr).port) !== undefined);
  } finally {
    c.close();
  }
});
