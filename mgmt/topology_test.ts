import { assert, assertEquals, assertThrows } from "@std/assert";
import { ConfigError } from "../core/errors.ts";
import { exportTopology, parseTopology } from "./topology.ts";
import { Node } from "./node.ts";

const GOOD = `api: 127.0.0.1:0
switches:
  - name: sw0
    sock: /tmp/x
    ports: 8
    vlans: { 1: "access:10", 4: "trunk:10,20,native:30" }
    connect: ["vde:///tmp/other"]
  - name: lab
    hub: true
`;

Deno.test("topology: a good file becomes switch specs", () => {
  const t = parseTopology(GOOD, "f.yaml");
  assertEquals(t.api, "127.0.0.1:0");
  assertEquals(t.switches.map((s) => s.name), ["sw0", "lab"]);
  assertEquals(t.switches[0].portVlans.map(([p, m]) => [p, m.kind]), [[1, "access"], [4, "trunk"]]);
  assertEquals(t.switches[0].connect, ["vde:///tmp/other"]);
  assertEquals(t.switches[1].listen, []);
});

Deno.test("topology: every error names the file, line and column", () => {
  const cases: [string, string][] = [
    ["switches:\n  - name: sw0\n    ports: [1", "f.yaml:3:14: Flow sequence"],
    ["switches:\n  - name: sw0\n    portz: 3\n", "f.yaml:2:5: switches.0: Unrecognized key"],
    ["switches:\n  - name: sw0\n    ports: many\n", "f.yaml:3:12: switches.0.ports:"],
    ["switches:\n  - name: sw0\n    ports: 0\n", "f.yaml:3:12: switches.0.ports:"],
    ["switches:\n  - name: sw0\n    vlans: { 2: hybrid }\n", "f.yaml:3:12: Invalid VLAN mode"],
    ["switches:\n  - name: a\n  - name: a\n", 'f.yaml:3:11: switch "a" is named twice'],
    ["switches: []\n", "f.yaml:1:11: switches:"],
  ];
  for (const [text, start] of cases) {
    const e = assertThrows(() => parseTopology(text, "f.yaml"), ConfigError);
    assertEquals(e.message.slice(0, start.length), start, `for:\n${text}\ngot: ${e.message}`);
  }
});

Deno.test("topology: stacks — parsed, checked with line and column, exported in a fixed order", async () => {
  const text = `switches:
  - name: sw0
stacks:
  - name: web
    switch: sw0
    ipv4: 10.0.0.2/24
    ipv6: [ auto ]
    service: { port: 7, kind: echo }
`;
  const t = parseTopology(text, "f.yaml");
  assertEquals(t.stacks, [{
    name: "web",
    switch: "sw0",
    ipv4: "10.0.0.2/24",
    ipv6: ["auto"],
    service: { port: 7, kind: "echo" },
  }]);
  const cases: [string, string][] = [
    [
      "switches:\n  - name: a\nstacks:\n  - name: s\n    switch: b\n    ipv4: dhcp\n",
      'f.yaml:5:13: stacks.0.switch: no switch "b"',
    ],
    [
      "stacks:\n  - name: s\n    url: vde:///x\n    ipv4: 10.0.0.1\n",
      'f.yaml:2:5: Invalid ipv4 "10.0.0.1"',
    ],
    ["stacks:\n  - name: s\n    url: vde:///x\n", "f.yaml:2:5: Invalid stack"],
    [
      "stacks:\n  - { name: s, url: x, ipv4: dhcp }\n  - { name: s, url: y, ipv4: dhcp }\n",
      'f.yaml:3:13: stack "s" is named twice',
    ],
    [
      "stacks:\n  - name: s\n    url: x\n    ipv4: dhcp\n    service: { kind: ftp, port: 1 }\n",
      "f.yaml:5:22: stacks.0.service.kind",
    ],
  ];
  for (const [bad, start] of cases) {
    const e = assertThrows(() => parseTopology(bad, "f.yaml"), ConfigError);
    assertEquals(e.message.slice(0, start.length), start, `for:\n${bad}\ngot: ${e.message}`);
  }
  // A node with the file's stack exports it with keys in one order, and re-parses the same.
  const node = new Node({ id: "n", version: "0" });
  try {
    await node.createSwitch({ name: "sw0" });
    await node.createStack(t.stacks[0]);
    const out = exportTopology(node);
    assertEquals(parseTopology(out, "out.yaml").stacks, [{
      name: "web",
      switch: "sw0",
      ipv4: "10.0.0.2/24",
      ipv6: ["auto"],
      service: { kind: "echo", port: 7 },
    }]);
    assertEquals(exportTopology(node), out);
  } finally {
    await node.close();
  }
  assertEquals(parseTopology("{}\n", "e.yaml", { allowEmpty: true }).switches, []);
});

Deno.test("topology: gateways — parsed, checked with line and column, exported with live forwards", async () => {
  const text = `switches:
  - name: lan
gateways:
  - name: nat
    switch: lan
    cidr: 10.9.0.0/24
    gatewayAddr: 10.9.0.1
    dhcp: { start: 10.9.0.100, end: 10.9.0.150, leaseSeconds: 600 }
    dns: true
`;
  const t = parseTopology(text, "f.yaml");
  assertEquals(t.gateways, [{
    name: "nat",
    switch: "lan",
    cidr: "10.9.0.0/24",
    gatewayAddr: "10.9.0.1",
    dhcp: { start: "10.9.0.100", end: "10.9.0.150", leaseSeconds: 600 },
    dns: true,
  }]);
  const cases: [string, string][] = [
    [
      text.replace("end: 10.9.0.150", "end: 10.8.0.150"),
      'f.yaml:8:11: Invalid DHCP range end "10.8.0.150": expected a host address inside 10.9.0.0/24',
    ],
    [text.replace("cidr: 10.9.0.0/24", "cidr: 10.9.0.0/31"), "f.yaml:6:11: Invalid gateway cidr"],
    [text.replace("switch: lan", "switch: wan"), 'f.yaml:5:13: gateways.0.switch: no switch "wan"'],
    [
      text.replace("switch: lan", "switch: lan\n    url: vde:///x"),
      "f.yaml:4:5: gateways.0: give exactly one",
    ],
    [text.replace("    dns: true\n", "    dns: yes please\n"), "f.yaml:9:10: gateways.0.dns:"],
    [
      text + "  - { name: nat, url: x, cidr: 10.1.0.0/24 }\n",
      'f.yaml:10:13: gateway "nat" is named',
    ],
    [
      "gateways:\n  - name: g\n    url: vde:///x\n    cidr: 10.1.0.0/24\n" +
      "    forwards: [ { proto: tcp, hostAddr: 127.0.0.1, hostPort: 1, guestAddr: 10.2.0.5, guestPort: 2 } ]\n",
      'f.yaml:5:15: Invalid forward "tcp:127.0.0.1:1:10.2.0.5:2"',
    ],
  ];
  for (const [bad, start] of cases) {
    const e = assertThrows(() => parseTopology(bad, "f.yaml"), ConfigError);
    assertEquals(e.message.slice(0, start.length), start, `for:\n${bad}\ngot: ${e.message}`);
  }
  // A gateway alone (on a URL) is a topology.
  assertEquals(
    parseTopology("gateways:\n  - { name: g, url: vde:///x, cidr: 10.1.0.0/24 }\n").gateways.length,
    1,
  );
  const node = new Node({ id: "n", version: "0" });
  try {
    await node.createSwitch({ name: "lan" });
    await node.createGateway(t.gateways[0]);
    const out = exportTopology(node);
    assertEquals(parseTopology(out, "out.yaml").gateways, t.gateways);
    // A forward added at runtime (as the API does) is part of the export: the live state.
    const id = await node.getGateway("nat").gateway.addForward({
      proto: "tcp",
      hostAddr: "127.0.0.1",
      hostPort: 0,
      guestAddr: "10.9.0.7",
      guestPort: 53,
    });
    const port = node.getGateway("nat").gateway.forwards()[0].hostPort;
    assert(port > 0, "the host picked a port");
    assertEquals(parseTopology(exportTopology(node), "out.yaml").gateways[0].forwards, [
      { proto: "tcp", hostAddr: "127.0.0.1", hostPort: port, guestAddr: "10.9.0.7", guestPort: 53 },
    ]);
    node.getGateway("nat").gateway.removeForward(id);
    assertEquals(exportTopology(node), out);
  } finally {
    await node.close();
  }
});

Deno.test("topology: routers — parsed, checked with line and column, exported in a fixed order", async () => {
  const text = `switches:
  - name: lan1
  - name: lan2
routers:
  - name: r1
    interfaces:
      - { name: a, switch: lan1, cidr: 10.1.0.1/24, cidr6: fd01::1/64, ra: { interval: 30 } }
      - { name: b, switch: lan2, cidr: 10.2.0.1/24 }
    routes:
      - { dest: 10.9.0.0/16, via: 10.2.0.254 }
`;
  const t = parseTopology(text, "f.yaml");
  assertEquals(t.routers, [{
    name: "r1",
    interfaces: [
      { name: "a", switch: "lan1", cidr: "10.1.0.1/24", cidr6: "fd01::1/64", ra: { interval: 30 } },
      { name: "b", switch: "lan2", cidr: "10.2.0.1/24" },
    ],
    routes: [{ dest: "10.9.0.0/16", via: "10.2.0.254" }],
  }]);
  const cases: [string, string][] = [
    [
      text.replace("switch: lan2", "switch: wan"),
      'f.yaml:8:28: routers.0.interfaces.1.switch: no switch "wan" in this file',
    ],
    [
      text.replace("via: 10.2.0.254", "via: 10.7.0.1"),
      'f.yaml:5:5: Router "r1": Route 10.9.0.0/16: via "10.7.0.1" is on no interface',
    ],
    [text.replace("cidr6: fd01::1/64, ", ""), 'f.yaml:5:5: Router "r1": Router interface "a": ra'],
    [
      text.replace("switch: lan2,", "switch: lan2, url: vde:///x,"),
      'f.yaml:5:5: Router "r1" interface "b": give exactly one of switch or url',
    ],
    [text.replace("ra: { interval: 30 }", "ra: often"), "f.yaml:7:76: routers.0.interfaces.0.ra:"],
    [text.replace("    routes:\n", "    routs:\n"), "f.yaml:5:5: routers.0: Unrecognized key"],
    [
      text + "  - { name: r1, interfaces: [ { name: c, url: vde:///x, cidr: 10.5.0.1/24 } ] }\n",
      'f.yaml:11:13: router "r1" is named twice',
    ],
  ];
  for (const [bad, start] of cases) {
    const e = assertThrows(() => parseTopology(bad, "f.yaml"), ConfigError);
    assertEquals(e.message.slice(0, start.length), start, `for:\n${bad}\ngot: ${e.message}`);
  }
  const node = new Node({ id: "n", version: "0" });
  try {
    for (const s of t.switches) await node.createSwitch(s);
    await node.createRouter(t.routers[0]);
    const out = exportTopology(node);
    assertEquals(parseTopology(out, "out.yaml").routers, t.routers);
    assertEquals(exportTopology(node), out, "a fixed point");
  } finally {
    await node.close();
  }
});
