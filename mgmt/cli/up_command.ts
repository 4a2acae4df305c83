import denoJson from "../../deno.json" with { type: "json" };
import { type ApiServer, DEFAULT_API, parseApiAddress } from "../api_server.ts";
import { Node } from "../node.ts";
import { readTopologyFile } from "../topology.ts";
import { prepareApi, startApi } from "./api_setup.ts";
import type { Command } from "./command.ts";
import { expectPositionals, STATE_OPTION, stateDirOf } from "./command.ts";
import { logSwitchEvents } from "./switch_report.ts";

export const upCommand: Command = {
  name: "up",
  summary:
    "Start a node from a YAML topology file (switches, VLANs, cables, stacks, gateways, routers)",
  positionals: "FILE.yaml",
  description: [
    "The whole file is checked first (errors name line and column) and nothing starts unless it",
    "is valid; a cable or listener that fails to open stops everything already started. Example:",
    "  api: 127.0.0.1:7780",
    "  switches:",
    "    - name: sw0",
    "      sock: /run/weft/sw0",
    '      vlans: { 1: access:10, 2: "trunk:10,20" }',
    '      listen: [ "tls://0.0.0.0:7443?token-file=/etc/weft/tokens" ]',
    "  gateways:",
    "    - { name: nat, switch: sw0, cidr: 10.0.2.0/24, dhcp: { start: 10.0.2.100, end: 10.0.2.199 } }",
    "  routers:",
    "    - name: r1",
    "      interfaces:",
    "        - { name: lan0, switch: sw0, cidr: 10.0.2.254/24 }",
    "        - { name: lab, url: vde:///run/lab, cidr: 10.5.0.1/24, cidr6: fd05::1/64, ra: true }",
    "Runs until SIGINT/SIGTERM.",
  ].join("\n"),
  options: { state: STATE_OPTION },
  async run(p, ctx) {
    const [file] = expectPositionals(this, p, 1);
    const topo = await readTopologyFile(file);
    const apiAddr = parseApiAddress(topo.api ?? DEFAULT_API);
    const stateDir = stateDirOf(p);
    const apiSetup = apiAddr ? await prepareApi(stateDir, topo.api !== undefined, ctx) : undefined;
    const node = new Node({
      id: apiSetup?.nodeId ?? "unidentified",
      version: denoJson.version,
      logger: ctx.logger,
      stateDir,
    });
    let api: ApiServer | undefined;
    try {
      for (const s of topo.switches) {
        const m = await node.createSwitch(s, s.sock);
        logSwitchEvents(m.switch, ctx.logger);
        for (const url of s.connect) await node.connect(s.name, url);
        for (const url of s.listen) await node.listen(s.name, url);
      }
      for (const s of topo.stacks) await node.createStack(s);
      for (const g of topo.gateways) await node.createGateway(g);
      for (const r of topo.routers) await node.createRouter(r);
      if (apiAddr && apiSetup) {
        api = startApi(
          node,
          apiAddr,
          apiSetup.token,
          topo.api !== undefined,
          ctx,
          apiSetup.identity,
        );
      }
    } catch (e) {
      await node.close();
      throw e;
    }
    ctx.logger.log("info", "node up", {
      file,
      switches: topo.switches.map((s) => s.name).join(","),
      stacks: topo.stacks.map((s) => s.name).join(","),
      gateways: topo.gateways.map((g) => g.name).join(","),
      routers: topo.routers.map((r) => r.name).join(","),
    });
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    await api?.close();
    await node.close();
    return 0;
  },
};
