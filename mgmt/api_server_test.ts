import { assertEquals, assertThrows } from "@std/assert";
import { ConfigError } from "../core/errors.ts";
import { parseApiAddress } from "./api_server.ts";

Deno.test("api address: loopback HOST:PORT or none", () => {
  assertEquals(parseApiAddress("none"), undefined);
  assertEquals(parseApiAddress("127.0.0.1:7780"), { hostname: "127.0.0.1", port: 7780 });
  assertEquals(parseApiAddress("127.1.2.3:0"), { hostname: "127.1.2.3", port: 0 });
  assertEquals(parseApiAddress("[::1]:80"), { hostname: "::1", port: 80 });
  assertEquals(parseApiAddress("localhost:9"), { hostname: "localhost", port: 9 });
  for (const bad of ["7780", "127.0.0.1", "127.0.0.1:x", "127.0.0.1:65536", "::1:80", ""]) {
    assertThrows(() => parseApiAddress(bad), ConfigError, "expected HOST:PORT");
  }
  for (const far of ["0.0.0.0:7780", "192.168.1.2:7780", "[::]:7780", "example.com:80"]) {
    assertThrows(() => parseApiAddress(far), ConfigError, "only loopback");
  }
});
