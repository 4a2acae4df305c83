import { type EndpointListener, listenEndpoints, openEndpoint } from "../../cable/mod.ts";
import { VdeServer } from "../../cable/vde_server.ts";
import { parseIntIn } from "../../core/errors.ts";
import { MAX_MTU, Switch } from "../../switch/switch.ts";
import { parsePortVlan } from "../../switch/vlan.ts";
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
    "Port up/down is logged on stderr; SIGUSR1 prints the counters; SIGINT/SIGTERM stop it.",
  ].join("\n"),
  options: {
    name: { type: "string", value: "NAME", help: "Name in logs and events (default sw0)" },
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
      help: `Per-port MTU: largest frame payload, header and tag excluded (default ${MAX_MTU})`,
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
  },
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    const intOpt = (name: string, dflt: number, min: number, max: number) => {
      const v = stringOpt(p, name);
      return v === undefined ? dflt : parseIntIn(`--${name}`, v, min, max);
    };
    const sw = new Switch({
      name: stringOpt(p, "name", "sw0"),
      ports: intOpt("ports", 32, 1, 65535),
      hub: p.values.hub === true,
      mtu: intOpt("mtu", MAX_MTU, 68, MAX_MTU),
      macLimit: intOpt("mac-limit", 65536, 1, 16_777_216),
      ageingSec: intOpt("ageing", 300, 1, 1_000_000),
    });
    for (const spec of listOpt(p, "vlan")) {
      const { port, mode } = parsePortVlan(spec);
      sw.portVlans.set(port, mode);
    }
    // Open the cables first: a bad URL must fail before the switch directory is created.
    const connected = [];
    const octx = { ...ctx, stateDir: stateDirOf(p) };
    for (const url of listOpt(p, "connect")) connected.push(await openEndpoint(url, octx));
    logSwitchEvents(sw, ctx.logger);
    for (const ep of connected) sw.attach(ep);
    const dir = stringOpt(p, "sock", defaultSockDir());
    const server = await VdeServer.listen(dir, {
      logger: ctx.logger,
      attach: (endpoint, port, description) => sw.attach(endpoint, { port, description }).number,
    });
    const listeners: EndpointListener[] = [];
    try {
      const tokenFile = stringOpt(p, "token-file");
      for (const given of listOpt(p, "listen")) {
        const url = tokenFile && !given.includes("token-file=")
          ? `${given}${given.includes("?") ? "&" : "?"}token-file=${tokenFile}`
          : given;
        listeners.push(
          await listenEndpoints(url, {
            ...octx,
            accept: (endpoint, description) => void sw.attach(endpoint, { description }),
          }),
        );
        ctx.logger.log("info", "listening", { url: listeners.at(-1)!.url });
      }
    } catch (e) {
      for (const l of listeners) l.close();
      server.close();
      throw e;
    }
    ctx.logger.log("info", "switch ready", { name: sw.name, sock: dir, ports: sw.maxPorts });
    const report = () => ctx.logger.log("info", switchReport(sw, server));
    Deno.addSignalListener("SIGUSR1", report);
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    Deno.removeSignalListener("SIGUSR1", report);
    report();
    for (const l of listeners) l.close();
    server.close();
    sw.close();
    return 0;
  },
};
