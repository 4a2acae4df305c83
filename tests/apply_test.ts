/**
 * `weft apply FILE.yaml` against a live `weft up` node on loopback: a dry run changes nothing,
 * an apply makes the node's export match the file (and a second apply has nothing to do), a step
 * that fails halfway is rolled back so the node is exactly as before, and an invalid file is
 * refused with its line and column.
 */

import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { exists } from "./_harness/process.ts";
import { runWeft, startWeftUp } from "./_harness/weft.ts";

Deno.test("apply: dry run, apply of the difference, rollback of a failed step, bad file", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-apply-" });
  try {
    const state = `${tmp}/state`;
    const base = [
      "switches:",
      "  - name: core",
      `    sock: ${tmp}/core`,
      "    mtu: 1500",
      "  - name: old",
      "stacks:",
      "  - { name: web, switch: core, ipv4: 10.4.0.2/24, service: { kind: echo, port: 7 } }",
      "",
    ].join("\n");
    const next = [
      "switches:",
      "  - name: core",
      `    sock: ${tmp}/core`,
      "    mtu: 9000",
      '    vlans: { 3: "access:30" }',
      "  - name: edge",
      `    connect: [ "vde://${tmp}/core?port=3" ]`,
      "stacks:",
      "  - { name: web, switch: core, ipv4: 10.4.0.2/24, service: { kind: echo, port: 7 } }",
      "  - { name: db, switch: edge, ipv4: 10.4.0.3/24, ipv6: [ fd04::3/64 ] }",
      "",
    ].join("\n");
    await Deno.writeTextFile(`${tmp}/up.yaml`, `api: 127.0.0.1:0\n${base}`);
    await Deno.writeTextFile(`${tmp}/next.yaml`, next);
    await using up = await startWeftUp(`${tmp}/up.yaml`, state);
    const weft = (...a: string[]) => runWeft([...a, "--api", up.url, "--state", state]);
    const exported = async () => {
      const r = await weft("export");
      assertEquals(r.code, 0, r.stderr);
      return r.stdout;
    };
    const before = await exported();

    // Dry run: the plan, and nothing changes.
    const dry = await weft("apply", `${tmp}/next.yaml`, "--dry-run");
    assertEquals(dry.code, 0, dry.stderr);
    assertEquals(dry.stdout.trimEnd().split("\n"), [
      "- switch old",
      '~ switch core: mtu 1500 → 9000, vlans {} → {"3":"access:30"}',
      `+ switch edge (ports 32, mtu ${/mtu (\d+)/.exec(dry.stdout.split("\n")[2])![1]})`,
      `+ cable edge connect vde://${tmp}/core?port=3`,
      "+ stack db (on edge, 10.4.0.3/24 fd04::3/64)",
      "weft apply: 5 change(s) planned (dry run: nothing applied)",
    ]);
    assertEquals(await exported(), before, "a dry run changes nothing");

    // Apply: only the difference; the export then matches the file, a second apply is a no-op.
    const t0 = performance.now();
    const applied = await weft("apply", `${tmp}/next.yaml`);
    const applyMs = performance.now() - t0;
    assertEquals(applied.code, 0, applied.stderr);
    assertMatch(applied.stdout, /weft apply: applied 5 change\(s\)\n$/);
    const after = await exported();
    assertMatch(after, /name: edge\n\s+ports: 32[\s\S]*connect:\n\s+- vde:\/\/.*core\?port=3/);
    assertMatch(after, /stacks:\n\s+- name: web[\s\S]*- name: db\n\s+switch: edge/);
    assert(!/name: old/.test(after), "old was deleted");
    const again = await weft("apply", `${tmp}/next.yaml`);
    assertEquals([again.code, again.stdout.trim()], [0, "weft apply: no changes"]);
    // The export of the node, applied to itself, is a no-op too (the round trip is exact).
    await Deno.writeTextFile(`${tmp}/export.yaml`, after);
    const self = await weft("apply", `${tmp}/export.yaml`);
    assertEquals([self.code, self.stdout.trim()], [0, "weft apply: no changes"]);
    // The stack the apply created answers on the switch: web (echo) was kept, db is new.
    const ports = JSON.parse((await weft("ctl", "--json", "list", "ports", "core")).stdout);
    assertEquals(ports.map((p: { port: number; vlan: string }) => [p.port, p.vlan]), [
      [1, "access:1"],
      [3, "access:30"],
    ]);

    // A failing step: a new switch, an in-place change, then a cable to core's port 3, which
    // edge's cable holds. The cable fails; the switch and the change are rolled back.
    const bad = next
      .replace("    mtu: 9000\n", "    mtu: 4000\n")
      .replace(
        "stacks:",
        `  - name: extra\n    connect: [ "vde://${tmp}/core?port=3" ]\nstacks:`,
      );
    await Deno.writeTextFile(`${tmp}/bad.yaml`, bad);
    const failed = await weft("apply", `${tmp}/bad.yaml`);
    assertEquals(failed.code, 1, failed.stdout + failed.stderr);
    assertMatch(failed.stderr, /"\+ cable extra connect vde:\/\/.*core\?port=3" failed: \d{3} /);
    assertMatch(failed.stderr, /rolled back 2 step\(s\); the node is as before/);
    assertEquals(await exported(), after, "the node is exactly as before the failed apply");

    // An invalid file: line and column, exit 2, nothing changed.
    await Deno.writeTextFile(
      `${tmp}/invalid.yaml`,
      next.replace("    mtu: 9000\n", "    mtu: 9000\n    hub: maybe\n"),
    );
    const invalid = await weft("apply", `${tmp}/invalid.yaml`);
    assertEquals(invalid.code, 2, invalid.stderr);
    assertMatch(invalid.stderr, new RegExp(`${tmp}/invalid\\.yaml:5:10: switches\\.0\\.hub: `));
    assertEquals(await exported(), after);
    assertNotEquals(after, before);
    console.log(`apply of 5 changes over the API: ${applyMs.toFixed(0)} ms (incl. process start)`);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

Deno.test("apply: a gateway from weft up — export round trip, DHCP change replaces it, bad range", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-apply-gw-" });
  try {
    // A free host port for the forward (a fixed port keeps up → export → up a fixed point).
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const hostPort = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const file = [
      "switches:",
      "  - name: lan",
      `    sock: ${tmp}/lan`,
      "gateways:",
      "  - name: nat",
      "    switch: lan",
      "    cidr: 10.6.0.0/24",
      "    gatewayAddr: 10.6.0.1",
      "    dhcp: { start: 10.6.0.100, end: 10.6.0.150 }",
      "    dns: true",
      "    forwards:",
      `      - { proto: tcp, hostAddr: 127.0.0.1, hostPort: ${hostPort}, guestAddr: 10.6.0.7, guestPort: 80 }`,
      "",
    ].join("\n");
    await Deno.writeTextFile(`${tmp}/up.yaml`, `api: 127.0.0.1:0\n${file}`);
    const first = await (async () => {
      await using up = await startWeftUp(`${tmp}/up.yaml`, `${tmp}/s1`);
      const r = await runWeft(["export", "--api", up.url, "--state", `${tmp}/s1`]);
      assertEquals(r.code, 0, r.stderr);
      return r.stdout;
    })();
    assertMatch(first, /gateways:\n\s+- name: nat\n\s+switch: lan\n\s+cidr: 10\.6\.0\.0\/24/);
    assertMatch(first, new RegExp(`hostPort: ${hostPort}\\n`));
    await Deno.writeTextFile(`${tmp}/again.yaml`, `api: 127.0.0.1:0\n${first}`);
    const state = `${tmp}/s2`;
    await using up = await startWeftUp(`${tmp}/again.yaml`, state);
    const weft = (...a: string[]) => runWeft([...a, "--api", up.url, "--state", state]);
    const second = await weft("export");
    assertEquals(second.code, 0, second.stderr);
    assertEquals(second.stdout, first, "up → export → up → export is a fixed point");
    // The forward listens on the host while the gateway runs.
    const c = await Deno.connect({ hostname: "127.0.0.1", port: hostPort });
    c.close();

    // A new DHCP range: the gateway is replaced, and the export then says the new range.
    await Deno.writeTextFile(
      `${tmp}/next.yaml`,
      file.replace("end: 10.6.0.150", "end: 10.6.0.199"),
    );
    const applied = await weft("apply", `${tmp}/next.yaml`);
    assertEquals(applied.code, 0, applied.stderr);
    assertEquals(applied.stdout.trimEnd().split("\n"), [
      "- gateway nat (replaced)",
      "+ gateway nat (on lan, 10.6.0.0/24, dhcp 10.6.0.100-10.6.0.199, dns, 1 forward(s))",
      "weft apply: applied 2 change(s)",
    ]);
    const after = await weft("export");
    assertMatch(after.stdout, /dhcp:\n\s+start: 10\.6\.0\.100\n\s+end: 10\.6\.0\.199/);
    const again = await weft("apply", `${tmp}/next.yaml`);
    assertEquals([again.code, again.stdout.trim()], [0, "weft apply: no changes"]);

    // A DHCP range outside the cidr: line and column; `weft up` starts nothing, apply changes nothing.
    const bad = file.replace("end: 10.6.0.150", "end: 10.7.0.150")
      .replace(`sock: ${tmp}/lan`, `sock: ${tmp}/badlan`);
    await Deno.writeTextFile(`${tmp}/bad.yaml`, `api: 127.0.0.1:0\n${bad}`);
    const r = await runWeft(["up", `${tmp}/bad.yaml`, "--state", `${tmp}/s3`]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(
      r.stderr,
      new RegExp(`^weft: ${tmp}/bad\\.yaml:10:11: Invalid DHCP range end "10\\.7\\.0\\.150"`),
    );
    assert(!(await exists(`${tmp}/badlan`)), "the switch of the invalid file was not created");
    const refused = await weft("apply", `${tmp}/bad.yaml`);
    assertEquals(refused.code, 2, refused.stderr);
    assertEquals((await weft("export")).stdout, after.stdout);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
