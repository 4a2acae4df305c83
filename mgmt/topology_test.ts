import { assertEquals, assertThrows } from "@std/assert";
import { ConfigError } from "../core/errors.ts";
import { parseTopology } from "./topology.ts";

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
