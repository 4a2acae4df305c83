import { assertEquals, assertThrows } from "@std/assert";
import { ConfigError } from "../core/errors.ts";
import { parseApiAddress } from "./api_server.ts";

Deno.test("api address: HOST:PORT or none; HTTPS beyond loopback", () => {
  assertEquals(parseApiAddress("none"), undefined);
  const plain = (hostname: string, port: number) => ({ hostname, port, tls: false });
  assertEquals(parseApiAddress("127.0.0.1:7780"), plain("127.0.0.1", 7780));
  assertEquals(parseApiAddress("127.1.2.3:0"), plain("127.1.2.3", 0));
  assertEquals(parseApiAddress("[::1]:80"), plain("::1", 80));
  assertEquals(parseApiAddress("localhost:9"), plain("localhost", 9));
  for (const bad of ["7780", "127.0.0.1", "127.0.0.1:x", "127.0.0.1:65536", "::1:80", ""]) {
    assertThrows(() => parseApiAddress(bad), ConfigError, "expected HOST:PORT");
  }
  for (const far of ["0.0.0.0:7780", "192.168.1.2:7780", "[::]:7780", "example.com:80"]) {
    assertEquals(parseApiAddress(far)?.tls, true, far);
  }
});
