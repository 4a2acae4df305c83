import { UsageError } from "../../core/errors.ts";
import { formatMac } from "../../core/mac.ts";
import { parseIfaceSpec, parseRouteSpec } from "../../router/config.ts";
import { checkRouterSpec, type RouterSpec } from "../router_resource.ts";
import type { Command } from "./command.ts";
import { expectPositionals, listOpt, STATE_OPTION } from "./command.ts";
import { API_OPTION, nameOpt, nodeWithApi } from "./api_setup.ts";

/** `weft router`: L3 forwarding between switches (router/router.ts). */
export const routerCommand: Command = {
  name: "router",
  summary: "Route IPv4/IPv6 between switches: static routes, ICMP errors, RAs",
  positionals: "",
  description: [
    "Joins two or more switches as an IP router: each --iface is a user-space stack with the",
    "router's address on that LAN; packets sent to it for other networks are forwarded by longest",
    "prefix match over the connected prefixes and the --route entries, with TTL / hop limit",
    "decrement and ICMP errors (time exceeded, net unreachable, fragmentation needed / packet too",
    "big). --ra NAME sends router advertisements for that interface's /64, so hosts there get",
    "addresses by SLAAC and the router as their default router.",
    "  weft router --iface lan1=vde:///tmp/sw1,10.1.0.1/24,fd01::1/64 \\",
    "              --iface lan2=vde:///tmp/sw2,10.2.0.1/24 --route 10.9.0.0/16=10.2.0.254 --ra lan1",
    "SIGUSR2 prints the counters on stderr; SIGINT/SIGTERM stop it. The management API (--api,",
    "default 127.0.0.1:7780) shows it at /api/v1/routers/NAME and in /metrics.",
  ].join("\n"),
  options: {
    name: { type: "string", value: "NAME", help: "Name in the API and metrics (default r0)" },
    iface: {
      type: "string",
      multiple: true,
      value: "NAME=URL,CIDR[,CIDR6]",
      help: "An interface: name, where it plugs in, its IPv4 and/or IPv6 address with prefix",
    },
    route: {
      type: "string",
      multiple: true,
      value: "DEST=VIA",
      help: "A static route: prefix (or default) via an on-link gateway",
    },
    ra: {
      type: "string",
      multiple: true,
      value: "NAME",
      help: "Send router advertisements on interface NAME (needs a /64 CIDR6)",
    },
    "ra-interval": {
      type: "string",
      value: "SECONDS",
      help: "MaxRtrAdvInterval for --ra (4..1800, default 600)",
    },
    state: STATE_OPTION,
    api: API_OPTION,
  },
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    const ifaces = listOpt(p, "iface").map(parseIfaceSpec);
    const raNames = listOpt(p, "ra");
    const intervalText = p.values["ra-interval"];
    const interval = typeof intervalText === "string" ? Number(intervalText) : undefined;
    if (interval !== undefined && !(interval >= 4 && interval <= 1800)) {
      throw new UsageError(
        `weft router: --ra-interval "${intervalText}": expected seconds in 4..1800`,
      );
    }
    if (listOpt(p, "iface").length === 0) {
      throw new UsageError("weft router: give at least one --iface NAME=URL,CIDR[,CIDR6]");
    }
    for (const n of raNames) {
      const i = ifaces.find((x) => x.name === n);
      if (!i) {
        throw new UsageError(`weft router: --ra "${n}": no --iface of that name`);
      }
      i.ra = interval === undefined ? true : { interval };
    }
    const name = nameOpt(p, "router", "r0");
    const spec: RouterSpec = {
      name,
      interfaces: ifaces,
      routes: listOpt(p, "route").map(parseRouteSpec),
    };
    // Validates everything (names, prefixes, gateways on-link) before anything is opened.
    checkRouterSpec(spec);
    const managed = await nodeWithApi(p, ctx);
    try {
      // The node opens the interfaces (closing them again if one fails) and runs the router.
      const { router } = await managed.node.createRouter(spec);
      managed.serve();
      for (const port of router.ports) {
        ctx.print(
          `weft router: ${port.name} MAC ${
            formatMac(port.stack.mac)
          } via ${port.stack.endpoint.url}` +
            (port.ra ? " (advertising)" : ""),
        );
        for (const a of port.stack.addressTexts()) ctx.print(`  ${a}`);
      }
      for (const r of router.describeRoutes()) ctx.print(`  route ${r}`);
      // Let DAD of the IPv6 addresses finish (RFC 4862 §5.4), bounded.
      await Promise.all(router.ports.map((port) => port.stack.settled(5_000)));
      ctx.print("weft router: ready");
      // Not SIGUSR1: in Deno that also opens the V8 inspector.
      const report = () => ctx.logger.log("info", `counters ${JSON.stringify(router.counters())}`);
      Deno.addSignalListener("SIGUSR2", report);
      try {
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          ctx.signal.addEventListener("abort", () => resolve(), { once: true });
        });
      } finally {
        Deno.removeSignalListener("SIGUSR2", report);
      }
      return 0;
    } finally {
      await managed.close();
    }
  },
};
