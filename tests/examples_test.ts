/**
 * The example topologies under examples/: every one parses with the topology parser `weft up`
 * uses, and the ones that need nothing of the host beyond /tmp start with `weft up` (their
 * /tmp/weft paths moved into a temporary directory, the API on a free port) and export back what
 * they say.
 */

import { assert, assertEquals } from "@std/assert";
import { gatewayEntryOf, parseTopology, stackEntryOf, type Topology } from "../mgmt/topology.ts";
import { routerEntryOf } from "../mgmt/router_resource.ts";
import { formatVlanMode } from "../switch/vlan.ts";
import { REPO_ROOT, runWeft, startWeftUp } from "./_harness/weft.ts";

const DIR = `${REPO_ROOT}/examples`;

async function examples(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(DIR)) if (e.name.endsWith(".yaml")) out.push(e.name);
  return out.sort();
}

Deno.test("examples: every examples/*.yaml parses with the topology parser", async () => {
  const names = await examples();
  assertEquals(names, [
    "routed_lans.yaml",
    "tls_listener.yaml",
    "vlan_lan.yaml",
    "web_stack.yaml",
  ]);
  for (const name of names) {
    const topo = parseTopology(await Deno.readTextFile(`${DIR}/${name}`), name);
    assert(topo.switches.length > 0, `${name} has a switch`);
  }
  const readme = await Deno.readTextFile(`${REPO_ROOT}/README.md`);
  for (const name of names) assert(readme.includes(`examples/${name}`), `README cites ${name}`);
});

/** What a topology says, in comparable form (defaults the file left out are not compared). */
function said(t: Topology, like: Topology) {
  return {
    switches: like.switches.map((want) => {
      const got = t.switches.find((s) => s.name === want.name);
      assert(got, `switch ${want.name} exported`);
      const keys = ["sock", "ports", "hub", "mtu", "macLimit", "ageingSec"] as const;
      return {
        name: got.name,
        ...Object.fromEntries(keys.filter((k) => want[k] !== undefined).map((k) => [k, got[k]])),
        vlans: got.portVlans.map(([p, m]) => `${p}=${formatVlanMode(m)}`).sort(),
        connect: got.connect,
        listen: got.listen,
      };
    }),
    switchNames: t.switches.map((s) => s.name).sort(),
    stacks: t.stacks.map(stackEntryOf),
    gateways: t.gateways.map(gatewayEntryOf),
    routers: t.routers.map(routerEntryOf),
  };
}

for (const name of ["routed_lans.yaml", "vlan_lan.yaml", "web_stack.yaml"]) {
  Deno.test(`examples: weft up examples/${name} exports back what the file says`, async () => {
    const tmp = await Deno.makeTempDir({ prefix: "weft-example-" });
    try {
      const text = (await Deno.readTextFile(`${DIR}/${name}`))
        .replaceAll("/tmp/weft/", `${tmp}/`)
        .replace(/^api: .*$/m, "api: 127.0.0.1:0");
      await Deno.mkdir(`${tmp}/www`);
      await Deno.writeTextFile(`${tmp}/www/index.html`, "hello\n");
      const file = `${tmp}/${name}`;
      await Deno.writeTextFile(file, text);
      const exported = await (async () => {
        await using up = await startWeftUp(file, `${tmp}/state`);
        const r = await runWeft(["export", "--api", up.url, "--state", `${tmp}/state`]);
        assertEquals(r.code, 0, r.stderr);
        return r.stdout;
      })();
      const given = parseTopology(text, file);
      const back = parseTopology(exported, "export");
      assertEquals(said(back, given), said(given, given));
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  });
}
