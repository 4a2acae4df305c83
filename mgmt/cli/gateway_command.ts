/**
 * `weft gateway`: a slirp-like gateway on a switch — NAT to the host's sockets, optional DHCP
 * server, DNS forwarder, IPv6 router advertisements and port forwards (router/gateway/).
 */

import { openEndpoint } from "../../cable/mod.ts";
import { ConfigError, parseIntIn, UsageError } from "../../core/errors.ts";
import type { Level } from "../../core/log.ts";
import { formatMac } from "../../core/mac.ts";
import { format_addr } from "../../stack/addr.ts";
import { Gateway, type GatewayOptions } from "../../router/gateway/gateway.ts";
import {
  type DhcpSpec,
  formatForward,
  parseForward,
  validateGateway,
} from "../../router/gateway/config.ts";
import type { Command, ParsedArgs } from "./command.ts";
import { API_OPTION, nameOpt, nodeWithApi } from "./api_setup.ts";
import { expectPositionals, listOpt, STATE_OPTION, stateDirOf, stringOpt } from "./command.ts";

export const gatewayCommand: Command = {
  name: "gateway",
  summary: "NAT a LAN to this host's sockets (slirp-like), with DHCP, DNS and port forwards",
  positionals: "",
  description: [
    "Plugs a gateway into the switch at --switch: guests on --cidr reach the world through this",
    "host's sockets (no root needed) and this host's 127.0.0.1 at the gateway address (.2).",
    "  weft gateway --switch vde:///tmp/sw --cidr 10.0.2.0/24 --dhcp 10.0.2.15-10.0.2.99 --dns",
    "  weft gateway --switch vde:///tmp/sw --cidr 10.0.2.0/24 --forward tcp:127.0.0.1:2222:10.0.2.15:22",
    "SIGUSR2 prints the counters on stderr; SIGINT/SIGTERM stop it. The management API (--api,",
    "default 127.0.0.1:7780) shows it at /api/v1/gateways/NAME and adds or removes forwards live:",
    "  weft ctl create forward NAME tcp:127.0.0.1:8022:10.0.2.15:22",
  ].join("\n"),
  options: {
    name: { type: "string", value: "NAME", help: "Name in the API and events (default gw0)" },
    switch: { type: "string", value: "URL", help: "The LAN: vde:///DIR, tap://NAME, …" },
    cidr: { type: "string", value: "CIDR", help: "The LAN's IPv4 prefix, e.g. 10.0.2.0/24" },
    ip6: {
      type: "string",
      value: "PREFIX",
      help: "IPv6 /64 to advertise (gateway ::2), e.g. fd00:2::/64",
    },
    dhcp: { type: "string", value: "START-END", help: "Run a DHCP server for this address range" },
    reserve: {
      type: "string",
      multiple: true,
      value: "MAC=ADDR[=NAME]",
      help: "A fixed DHCP address (and name) for a MAC",
    },
    "lease-file": { type: "string", value: "PATH", help: "Keep DHCP leases in PATH" },
    dns: { type: "boolean", help: "Run a DNS forwarder on the gateway address" },
    forward: {
      type: "string",
      multiple: true,
      value: "tcp|udp:HOSTADDR:HOSTPORT:GUESTIP:GUESTPORT",
      help: "Forward a host port to a guest",
    },
    mtu: { type: "string", value: "N", help: "IP MTU of the LAN (default: the endpoint's)" },
    "no-host-loopback": {
      type: "boolean",
      help: "Refuse connections to the gateway address instead of reaching 127.0.0.1",
    },
    state: STATE_OPTION,
    api: API_OPTION,
  },
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    const opts = gatewayOptionsOf(p);
    // Checked before the endpoint opens: bad input changes nothing.
    validateGateway(opts);
    const name = nameOpt(p, "gateway", "gw0");
    const managed = await nodeWithApi(p, ctx);
    let endpoint;
    let gw: Gateway;
    try {
      endpoint = await openEndpoint(opts.url, { ...ctx, stateDir: stateDirOf(p) });
    } catch (e) {
      await managed.close();
      throw e;
    }
    try {
      gw = await Gateway.start({
        ...opts,
        endpoint,
        logger: (level, msg, fields) => ctx.logger.log(level as Level, msg, fields),
      });
    } catch (e) {
      endpoint.close();
      await managed.close();
      throw e;
    }
    try {
      managed.node.adoptGateway({
        name,
        url: opts.url,
        cidr: opts.cidr,
        ...(opts.ip6 === undefined ? {} : { ip6: opts.ip6 }),
        ...(opts.dhcp ? { dhcp: { start: opts.dhcp.start, end: opts.dhcp.end } } : {}),
        dns: opts.dns ?? false,
        forwards: opts.forwards ?? [],
      }, gw);
      managed.serve();
    } catch (e) {
      await managed.close();
      await gw.close();
      throw e;
    }
    const c = gw.config;
    ctx.print(`weft gateway: ${c.net ? format_addr(c.net) : ""}/${c.prefix} via ${endpoint.url}`);
    ctx.print(`  gateway ${format_addr(c.gateway)} (MAC ${formatMac(gw.stack.mac)})`);
    if (c.gateway6) ctx.print(`  gateway ${format_addr(c.gateway6)} (router advertisements)`);
    if (opts.dns) ctx.print(`  dns ${format_addr(c.dns)}`);
    if (opts.dhcp) ctx.print(`  dhcp ${opts.dhcp.start}-${opts.dhcp.end}`);
    for (const f of gw.forwards()) ctx.print(`  forward ${f.id} ${formatForward(f)}`);
    ctx.print("weft gateway: ready");
    // Not SIGUSR1: in Deno that also opens the V8 inspector.
    const report = () => ctx.logger.log("info", `counters ${JSON.stringify(gw.counters())}`);
    Deno.addSignalListener("SIGUSR2", report);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      endpoint.closed.then(() => resolve());
    });
    Deno.removeSignalListener("SIGUSR2", report);
    await managed.close();
    await gw.close();
    return 0;
  },
};

type CliGateway = Omit<GatewayOptions, "endpoint"> & { url: string };

/** Parse and check the options (UsageError / ConfigError naming the value). */
export function gatewayOptionsOf(p: ParsedArgs): CliGateway {
  const url = stringOpt(p, "switch");
  if (!url) throw new UsageError("weft gateway: --switch URL is required");
  const cidr = stringOpt(p, "cidr");
  if (!cidr) throw new UsageError("weft gateway: --cidr CIDR is required (e.g. 10.0.2.0/24)");
  const o: CliGateway = { url, cidr };
  const ip6 = stringOpt(p, "ip6");
  if (ip6 !== undefined) o.ip6 = ip6;
  const range = stringOpt(p, "dhcp");
  const reserve = listOpt(p, "reserve");
  const leaseFile = stringOpt(p, "lease-file");
  if (range !== undefined) {
    const m = /^([0-9.]+)-([0-9.]+)$/.exec(range);
    if (!m) {
      throw new ConfigError(
        `Invalid --dhcp "${range}": expected START-END like 10.0.2.15-10.0.2.99`,
      );
    }
    const d: DhcpSpec = { start: m[1], end: m[2] };
    d.reservations = reserve.map((r) => {
      const parts = r.split("=");
      if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
        throw new ConfigError(`Invalid --reserve "${r}": expected MAC=ADDR or MAC=ADDR=NAME`);
      }
      return { mac: parts[0], addr: parts[1], ...(parts[2] ? { name: parts[2] } : {}) };
    });
    if (leaseFile !== undefined) d.leaseFile = leaseFile;
    o.dhcp = d;
  } else if (reserve.length > 0 || leaseFile !== undefined) {
    throw new UsageError("weft gateway: --reserve and --lease-file need --dhcp START-END");
  }
  if (p.values.dns === true) o.dns = true;
  if (p.values["no-host-loopback"] === true) o.hostLoopback = false;
  o.forwards = listOpt(p, "forward").map(parseForward);
  const mtu = stringOpt(p, "mtu");
  if (mtu !== undefined) o.mtu = parseIntIn("--mtu", mtu, 576, 65521);
  return o;
}
