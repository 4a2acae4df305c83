import { assertEquals, assertThrows } from "@std/assert";
import { UsageError } from "../../core/errors.ts";
import { requestOf, routerBodyOf } from "./ctl_command.ts";

Deno.test("ctl: create router words become the RouterCreate body", () => {
  assertEquals(
    routerBodyOf("r1", [
      "iface=a=sw0,10.1.0.1/24",
      "iface=b=vde:///run/sw,1,fd02::1/64,10.2.0.1/24",
      "ra=b",
      "route=default=10.2.0.254",
    ]),
    {
      name: "r1",
      interfaces: [
        { name: "a", switch: "sw0", cidr: "10.1.0.1/24" },
        // The URL keeps its commas; the trailing prefixes are the addresses.
        { name: "b", url: "vde:///run/sw,1", cidr: "10.2.0.1/24", cidr6: "fd02::1/64", ra: true },
      ],
      routes: [{ dest: "0.0.0.0/0", via: "10.2.0.254" }],
    },
  );
  const bad: [string[], RegExp][] = [
    [[], /give at least one iface=/],
    [["iface=a=sw0"], /iface="a=sw0": expected NAME=URL,CIDR/],
    [["iface=a=sw0,10.1.0.1/24", "ra=z"], /ra=z: no iface of that name/],
    [["iface=a=sw0,10.1.0.1/24", "route=10.9.0.0/16"], /route="10.9.0.0\/16": expected DEST=VIA/],
    [["iface=a=sw0,10.1.0.1/24", "mtu=9000"], /expected iface=…, route=DEST=VIA or ra=IFACE/],
  ];
  for (const [words, re] of bad) {
    const e = assertThrows(() => routerBodyOf("r1", words), UsageError);
    assertEquals(re.test(e.message), true, `${words.join(" ")}: ${e.message}`);
  }
  assertEquals(requestOf(["delete", "router", "r 1"]), {
    method: "DELETE",
    path: "/api/v1/routers/r%201",
  });
  assertThrows(() => requestOf(["show", "router"]), UsageError, "expected a router name");
});
