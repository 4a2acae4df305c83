import { assertEquals, assertThrows } from "@std/assert";
import { ConfigError } from "../core/errors.ts";
import { parse_addr, parse_cidr } from "../stack/addr.ts";
import { parseIfaceSpec, parseRouterConfig, parseRouteSpec } from "./config.ts";
import { RouteTable } from "./route_table.ts";

Deno.test("config: --iface and --route specs parse; bad values are named", () => {
  assertEquals(parseIfaceSpec("lan1=vde:///tmp/sw,10.1.0.1/24,fd01::1/64"), {
    name: "lan1",
    url: "vde:///tmp/sw",
    cidr: "10.1.0.1/24",
    cidr6: "fd01::1/64",
  });
  assertEquals(parseRouteSpec("default=10.2.0.9"), { dest: "0.0.0.0/0", via: "10.2.0.9" });
  assertThrows(() => parseIfaceSpec("lan1=vde:///tmp/sw"), ConfigError, "lan1=vde:///tmp/sw");
  const base = [{ name: "a", url: "x://", cidr: "10.1.0.1/24" }];
  assertThrows(
    () =>
      parseRouterConfig({ interfaces: base, routes: [{ dest: "10.9.0.0/16", via: "10.3.0.1" }] }),
    ConfigError,
    "10.3.0.1",
  );
  assertThrows(
    () => parseRouterConfig({ interfaces: [{ ...base[0], ra: true }] }),
    ConfigError,
    "/64",
  );
  assertThrows(() => parseRouterConfig({ interfaces: [...base, ...base] }), ConfigError, "twice");
  assertThrows(() => parseRouterConfig({ interfaces: [] }), ConfigError, "interfaces");
  const ok = parseRouterConfig({
    interfaces: base,
    routes: [{ dest: "10.9.1.7/16", via: "10.1.0.9" }],
  });
  assertEquals(ok.routes[0].dest, parse_cidr("10.9.0.0/16"));
});

Deno.test("route table: longest prefix match across interfaces, v4 and v6", () => {
  const t = new RouteTable();
  t.add({ dest: parse_cidr("0.0.0.0/0")!, port: 0, kind: "static" });
  t.add({ dest: parse_cidr("10.0.0.0/8")!, port: 1, kind: "static" });
  t.add({ dest: parse_cidr("10.2.0.0/24")!, port: 2, kind: "connected" });
  t.add({ dest: parse_cidr("fd00::/8")!, port: 1, kind: "static" });
  t.add({ dest: parse_cidr("fd02::/64")!, port: 2, kind: "connected" });
  const at = (a: string) => {
    const b = parse_addr(a)!;
    return (b.length === 4 ? t.lookup4(b, 0) : t.lookup6(b, 0))?.port;
  };
  assertEquals([at("10.2.0.7"), at("10.3.0.1"), at("192.0.2.1")], [2, 1, 0]);
  assertEquals([at("fd02::5"), at("fd03::1"), at("2001:db8::1")], [2, 1, undefined]);
});
