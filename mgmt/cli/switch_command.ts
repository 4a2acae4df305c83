import denoJson from "../../deno.json" with { type: "json" };
import { openEndpoint } from "../../cable/mod.ts";
import type { Endpoint } from "../../core/endpoint.ts";
import { parseIntIn } from "../../core/errors.ts";
import { parsePortVlan, type VlanMode } from "../../switch/vlan.ts";
import { type ApiServer, DEFAULT_API, parseApiAddress } from "../api_server.ts";
import { prepareApi, startApi } from "./api_setup.ts";
import { LIMITS, Node } from "../node.ts";
import type { Command } from "./command.ts";
import { expectPositionals, listOpt, STATE_OPTION, stateDirOf, stringOpt } from "./command.ts";
import { logSwitchEvents, switchReport } from "./switch_report.ts";

/** vde_switch's default directory: /var/run/vde.ctl for root, /tmp/vde.ctl otherwise. */
export function defaultSockDir(): string {
  return Deno.uid() === 0 ? "/var/run/vde.ctl" : "/tmp/vde.ctl";
}

export const switchCommand: Command = {
  name: "switch",
  summary: "Run an L2 switch that VDE tools, QEMU and weft cables plug into",
  positionals: "",
  description: [
    "Serves the vde_switch control protocol at DIR, so unmodified vde_plug (vdeplug4),",
    "vde_plug2tap and qemu -netdev vde,sock=DIR attach to it:",
    "  weft switch --sock /tmp/sw &",
    "  vde_plug vde:///tmp/sw tap://tap0",
    "Port up/down is logged on stderr; SIGUSR2 prints the counters; SIGINT/SIGTERM stop it.",
    `The management API is served on ${DEFAULT_API} (--api) with the bearer token in`,
    'STATE/api.token:  curl -H "Authorization: Bearer $(cat STATE/api.token)" \\',
    `                    http://${DEFAULT_API}/api/v1/switches`,
  ].join("\n"),
  options: {
    name: { type: "string", value: "NAME", help: "Name in logs, events and the API (default sw0)" },
    sock: {
      type: "string",
      value: "DIR",
      help:
        "Switch directory with the ctl socket (default /var/run/vde.ctl as root, else /tmp/vde.ctl)",
    },
    ports: { type: "string", value: "N", help: "Number of ports, 1..N (default 32)" },
    hub: { type: "boolean", help: "Act as a hub: repeat every frame to every port" },
    mtu: {
      type: "string",
      value: "BYTES",
      help:
        `Per-port MTU: largest frame payload, header and tag excluded (default ${LIMITS.mtu.max})`,
    },
    "mac-limit": { type: "string", value: "N", help: "MAC table size limit (default 65536)" },
    ageing: { type: "string", value: "SEC", help: "MAC ageing time in seconds (default 300)" },
    vlan: {
      type: "string",
      multiple: true,
      value: "PORT=MODE",
      help: "802.1Q mode of a port: access:ID or trunk:IDS[,native:ID] (IDS: all | 10,20-29)",
    },
    connect: {
      type: "string",
      multiple: true,
      value: "URL",
      help: "Also plug this endpoint into a port (e.g. vde:///tmp/other)",
    },
    state: STATE_OPTION,
    "token-file": {
      type: "string",
      value: "FILE",
      help: "Tokens that admit cable clients (one per line), for --listen URLs without their own",
    },
    listen: {
      type: "string",
      multiple: true,
      value: "URL",
      help: "Accept cables on URL, each as a new port (e.g. tls://0.0.0.0:7443)",
    },
    api: {
      type: "string",
      value: "ADDR:PORT",
      help: `Serve the management API here, loopback only (default ${DEFAULT_API}; none: off)`,
    },
  },
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    // Every flag is checked before anything is opened or created.
    const intOpt = (name: string, r: { min: number; max: number; dflt: number }) => {
      const v = stringOpt(p, name);
      return v === undefined ? r.dflt : parseIntIn(`--${name}`, v, r.min, r.max);
    };
    const portVlans: [number, VlanMode][] = listOpt(p, "vlan").map((spec) => {
      const { port, mode } = parsePortVlan(spec);
      return [port, mode];
    });
    const spec = {
      name: stringOpt(p, "name", "sw0"),
      ports: intOpt("ports", LIMITS.ports),
      hub: p.values.hub === true,
      mtu: intOpt("mtu", LIMITS.mtu),
      macLimit: intOpt("mac-limit", LIMITS.macLimit),
      ageingSec: intOpt("ageing", LIMITS.ageingSec),
      portVlans,
    };
    const apiGiven = stringOpt(p, "api");
    const apiAddr = parseApiAddress(apiGiven ?? DEFAULT_API);
    const stateDir = stateDirOf(p);
    const explicitApi = apiGiven !== undefined;
    const apiSetup = apiAddr ? await prepareApi(stateDir, explicitApi, ctx) : undefined;

    const node = new Node({
      id: apiSetup?.nodeId ?? "unidentified",
      version: denoJson.version,
      logger: ctx.logger,
      stateDir,
    });
    // Open the cables first: a bad URL must fail before the switch directory is created.
    const connected: Endpoint[] = [];
    const dir = stringOpt(p, "sock", defaultSockDir());
    let api: ApiServer | undefined;
    try {
      for (const url of listOpt(p, "connect")) {
        connected.push(await openEndpoint(url, node.openContext));
      }
      const m = await node.createSwitch(spec, dir);
      logSwitchEvents(m.switch, ctx.logger);
      for (const ep of connected.splice(0)) m.switch.attach(ep);
      m.connects.push(...listOpt(p, "connect"));
      const tokenFile = stringOpt(p, "token-file");
      for (const given of listOpt(p, "listen")) {
        const url = tokenFile && !given.includes("token-file=")
          ? `${given}${given.includes("?") ? "&" : "?"}token-file=${tokenFile}`
          : given;
        const l = await node.listen(m.switch.name, url);
        ctx.logger.log("info", "listening", { url: l.url });
      }
      if (apiAddr && apiSetup) api = startApi(node, apiAddr, apiSetup.token, explicitApi, ctx);
    } catch (e) {
      for (const ep of connected) ep.close();
      await node.close();
      throw e;
    }
    const m = node.get(spec.name);
    const sw = m.switch;
    ctx.logger.log("info", "switch ready", { name: sw.name, sock: dir, ports: sw.maxPorts });
    const report = () => ctx.logger.log("info", switchReport(sw, m.server));
    // Not SIGUSR1: in Deno that also opens the V8 inspector on 127.0.0.1:9229.
    Deno.addSignalListener("SIGUSR2", report);
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    Deno.removeSignalListener("SIGUSR2", report);
    report();
    await api?.close();
    await node.close();
    return 0;
  },
};
