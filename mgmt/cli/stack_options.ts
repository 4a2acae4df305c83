/**
 * The options every command that runs a user-space stack shares (`weft serve`, `weft ping`):
 * where to plug in and which addresses to take. Parsed once here so both commands accept and
 * reject the same things with the same messages.
 */

import { openEndpoint } from "../../cable/mod.ts";
import { UsageError } from "../../core/errors.ts";
import { type Cidr, type IpAddr, parse_addr, parse_cidr } from "../../stack/addr.ts";
import { Stack } from "../../stack/stack.ts";
import { parse_mac } from "../../stack/wire/mod.ts";
import type { CommandContext, OptionSpec, ParsedArgs } from "./command.ts";
import { listOpt, STATE_OPTION, stateDirOf, stringOpt } from "./command.ts";

export const STACK_OPTIONS: Record<string, OptionSpec> = {
  switch: {
    type: "string",
    value: "URL",
    help: "Where the stack plugs in: vde:///DIR (a weft or vde_switch directory), tap://NAME, …",
  },
  ip: {
    type: "string",
    value: "CIDR|dhcp",
    help: "IPv4 address with prefix (10.0.0.2/24) or dhcp",
  },
  ip6: {
    type: "string",
    multiple: true,
    value: "auto|CIDR",
    help: "IPv6: auto (SLAAC from router advertisements) or an address with prefix",
  },
  gw: { type: "string", multiple: true, value: "ADDR", help: "Default gateway (IPv4 or IPv6)" },
  mac: { type: "string", value: "MAC", help: "The stack's MAC address (default: random 02:…)" },
  "dhcp-timeout": {
    type: "string",
    value: "SECONDS",
    help:
      "With --ip dhcp / --ip6 auto: how long to wait for a lease or an advertisement (default 30)",
  },
  state: STATE_OPTION,
};

export interface StackConfig {
  url: string;
  ipv4: Cidr | "dhcp" | undefined;
  ipv6: Array<Cidr | "auto">;
  gateways: IpAddr[];
  mac: number | undefined;
  dhcpTimeoutMs: number;
}

/** Validate the stack options; a UsageError names the bad value and what was expected. */
export function stackConfigOf(command: string, p: ParsedArgs): StackConfig {
  const url = stringOpt(p, "switch");
  if (!url) throw new UsageError(`weft ${command}: --switch URL is required`);
  const ipText = stringOpt(p, "ip");
  let ipv4: Cidr | "dhcp" | undefined;
  if (ipText === "dhcp") ipv4 = "dhcp";
  else if (ipText !== undefined) {
    const c = parse_cidr(ipText);
    if (!c || c.addr.length !== 4) {
      throw new UsageError(
        `weft ${command}: --ip "${ipText}": expected IPv4/prefix like 10.0.0.2/24, or dhcp`,
      );
    }
    ipv4 = c;
  }
  const ipv6: Array<Cidr | "auto"> = [];
  for (const t of listOpt(p, "ip6")) {
    if (t === "auto") ipv6.push("auto");
    else {
      const c = parse_cidr(t);
      if (!c || c.addr.length !== 16) {
        throw new UsageError(
          `weft ${command}: --ip6 "${t}": expected IPv6/prefix like fd00::2/64, or auto`,
        );
      }
      ipv6.push(c);
    }
  }
  if (ipv4 === undefined && ipv6.length === 0) {
    throw new UsageError(
      `weft ${command}: give the stack an address: --ip CIDR|dhcp and/or --ip6 auto|CIDR`,
    );
  }
  const gateways = listOpt(p, "gw").map((t) => {
    const a = parse_addr(t);
    if (!a) throw new UsageError(`weft ${command}: --gw "${t}": expected an IPv4 or IPv6 address`);
    return a;
  });
  const macText = stringOpt(p, "mac");
  const mac = macText === undefined ? undefined : parse_mac(macText);
  if (macText !== undefined && (mac === undefined || Math.floor(mac / 2 ** 40) & 1)) {
    throw new UsageError(
      `weft ${command}: --mac "${macText}": expected a unicast MAC like 02:00:00:00:00:01`,
    );
  }
  const dt = Number(stringOpt(p, "dhcp-timeout", "30"));
  if (!(dt > 0 && dt <= 3600)) {
    throw new UsageError(`weft ${command}: --dhcp-timeout: expected seconds in 1..3600`);
  }
  return { url, ipv4, ipv6, gateways, mac, dhcpTimeoutMs: dt * 1000 };
}

/** Open the endpoint and start the stack; with DHCP, wait for the lease (bounded). */
export async function openStack(
  cfg: StackConfig,
  p: ParsedArgs,
  ctx: CommandContext,
): Promise<Stack> {
  const endpoint = await openEndpoint(cfg.url, { ...ctx, stateDir: stateDirOf(p) });
  const stack = new Stack({
    endpoint,
    mac: cfg.mac,
    ipv4: cfg.ipv4,
    ipv6: cfg.ipv6,
    gateways: cfg.gateways,
  });
  ctx.signal.addEventListener("abort", () => stack.close());
  // Bounded: with DHCP or SLAAC the lease / router advertisement may never come.
  const wait = cfg.ipv4 === "dhcp" || cfg.ipv6.includes("auto") ? cfg.dhcpTimeoutMs : 5_000;
  if (!(await stack.settled(wait))) {
    if (cfg.ipv4 === "dhcp" && stack.lease === undefined) {
      await stack.close();
      throw new Deno.errors.TimedOut(`No DHCP lease on ${cfg.url} within ${wait / 1000} s`);
    }
    ctx.logger.log("warn", "addresses not settled", { addresses: stack.addressTexts().join(" ") });
  }
  return stack;
}
