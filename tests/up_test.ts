/** `weft up FILE.yaml`: a node from a topology file, checked whole before anything starts. */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { exists } from "./_harness/process.ts";
import { runWeft, startWeftUp } from "./_harness/weft.ts";

Deno.test("up: two switches from YAML, one cabled to the other, driven by weft ctl", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-up-" });
  try {
    const file = `${tmp}/fabric.yaml`;
    await Deno.writeTextFile(
      file,
      [
        "api: 127.0.0.1:0",
        "switches:",
        "  - name: core",
        `    sock: ${tmp}/core`,
        "    vlans: { 2: access:10 }",
        "  - name: edge",
        `    sock: ${tmp}/edge`,
        `    connect: [ "vde://${tmp}/core?port=2" ]`,
        "",
      ].join("\n"),
    );
    await using up = await startWeftUp(file, `${tmp}/state`);
    const url = up.url;
    const ctl = (...a: string[]) => runWeft(["ctl", "--api", url, "--state", `${tmp}/state`, ...a]);
    const list = await ctl("--json", "list", "switches");
    assertEquals(list.code, 0, list.stderr);
    assertEquals(JSON.parse(list.stdout).map((s: { name: string }) => s.name).sort(), [
      "core",
      "edge",
    ]);
    const ports = JSON.parse((await ctl("--json", "list", "ports", "core")).stdout);
    assertEquals(ports.length, 1, "edge's cable took port 2 of core");
    assertEquals(ports[0].port, 2);
    assertMatch(JSON.stringify(ports[0]), /access:10/);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

Deno.test("up: an invalid file names line and column, exits 2 and starts nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-up-" });
  try {
    const file = `${tmp}/bad.yaml`;
    await Deno.writeTextFile(
      file,
      `switches:\n  - name: a\n    sock: ${tmp}/a\n  - name: b\n    mtu: 12\n`,
    );
    const r = await runWeft(["up", file, "--state", `${tmp}/state`]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, new RegExp(`^weft: ${file}:5:10: switches\\.1\\.mtu: `));
    assert(!(await exists(`${tmp}/a`)), "switch a was not created");
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

Deno.test("up → export → up of the export gives the same topology", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-up-" });
  try {
    const file = `${tmp}/fabric.yaml`;
    await Deno.writeTextFile(
      file,
      [
        "api: 127.0.0.1:0",
        "switches:",
        "  - name: core",
        `    sock: ${tmp}/core`,
        "    mtu: 1500",
        '    vlans: { 3: access:20, 4: "trunk:10,20,native:30" }',
        "  - name: edge",
        `    sock: ${tmp}/edge`,
        "    hub: true",
        `    connect: [ "vde://${tmp}/core?port=3" ]`,
        "stacks:",
        "  - name: web",
        "    switch: core",
        "    ipv4: 10.5.0.2/24",
        "    ipv6: [ fd05::2/64 ]",
        `    service: { kind: dir, port: 80, path: ${tmp} }`,
        "",
      ].join("\n"),
    );
    const exportOf = async (yamlFile: string, state: string) => {
      await using up = await startWeftUp(yamlFile, state);
      const r = await runWeft(["export", "--api", up.url, "--state", state]);
      assertEquals(r.code, 0, r.stderr);
      return r.stdout;
    };
    const first = await exportOf(file, `${tmp}/s1`);
    assertMatch(first, /name: core[\s\S]*mtu: 1500[\s\S]*"?3"?: access:20/);
    assertMatch(first, /connect:\n\s+- vde:\/\/.*core\?port=3/);
    assertMatch(first, /stacks:\n\s+- name: web\n\s+switch: core\n\s+ipv4: 10\.5\.0\.2\/24/);
    // Run the export itself (with an API address added), and export again: a fixed point.
    await Deno.writeTextFile(`${tmp}/again.yaml`, `api: 127.0.0.1:0\n${first}`);
    const second = await exportOf(`${tmp}/again.yaml`, `${tmp}/s2`);
    assertEquals(second, first);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
