/**
 * The configuration of one router as plain data, validated with zod so the same model serves the
 * CLI (`weft router --iface … --route …`), a YAML topology and the API later:
 *
 * ```yaml
 * interfaces:
 *   - { name: lan1, url: vde:///run/sw1, cidr: 10.1.0.1/24, cidr6: fd01::1/64, ra: true }
 *   - { name: lan2, url: vde:///run/sw2, cidr: 10.2.0.1/24 }
 * routes:
 *   - { dest: 10.9.0.0/16, via: 10.2.0.254 }
 * ```
 *
 * `parseRouterConfig` checks what zod cannot: addresses parse, families match, names are unique,
 * an RA interface has a /64 (RFC 4862 §5.5.3 (d)), and each route's gateway is on a connected
 * prefix (the router must know which interface reaches it). Errors are one-line ConfigErrors that
 * name the bad value.
 */

import { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import {
  type Cidr,
  format_addr,
  type IpAddr,
  parse_addr,
  parse_cidr,
  prefix_match,
} from "../stack/addr.ts";

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/;

export const raConfigSchema = z.object({
  /** MaxRtrAdvInterval (RFC 4861 §6.2.1), seconds: 4..1800, default 600. */
  interval: z.number().min(4).max(1800).optional(),
  /** AdvDefaultLifetime, seconds (0: not a default router), default 3 × interval, ≤ 9000. */
  lifetime: z.number().int().min(0).max(9000).optional(),
});

export const routerInterfaceSchema = z.object({
  name: z.string().regex(NAME_RE, "a name of letters, digits, _ . - (at most 32)"),
  url: z.string().min(1),
  /** IPv4 address with prefix, e.g. 10.1.0.1/24. */
  cidr: z.string().optional(),
  /** IPv6 address with prefix, e.g. fd01::1/64. */
  cidr6: z.string().optional(),
  /** Send router advertisements for cidr6's prefix on this interface. */
  ra: z.union([z.boolean(), raConfigSchema]).optional(),
  /** The interface's MAC (default random 02:…), as a number. */
  mac: z.number().int().min(0).max(2 ** 48 - 1).optional(),
});

export const routeSchema = z.object({
  dest: z.string(),
  via: z.string(),
});

export const routerConfigSchema = z.object({
  interfaces: z.array(routerInterfaceSchema).min(1),
  routes: z.array(routeSchema).optional(),
});

export type RouterConfig = z.infer<typeof routerConfigSchema>;
export type RouterInterfaceConfig = z.infer<typeof routerInterfaceSchema>;
export type RaConfig = z.infer<typeof raConfigSchema>;

/** An interface after validation: parsed addresses. */
export interface ResolvedInterface {
  name: string;
  url: string;
  ipv4?: Cidr;
  ipv6?: Cidr;
  ra?: RaConfig;
  mac?: number;
}

export interface ResolvedRoute {
  dest: Cidr;
  via: IpAddr;
}

export interface ResolvedRouterConfig {
  interfaces: ResolvedInterface[];
  routes: ResolvedRoute[];
}

/** A copy of `c` with the host bits cleared (the route's key). */
export function network_of(c: Cidr): Cidr {
  const a = c.addr.slice();
  for (let i = 0; i < a.length; i++) {
    const bits = c.prefix - 8 * i;
    if (bits <= 0) a[i] = 0;
    else if (bits < 8) a[i] &= (0xff00 >>> bits) & 0xff;
  }
  return { addr: a, prefix: c.prefix };
}

export function format_cidr(c: Cidr): string {
  return `${format_addr(c.addr)}/${c.prefix}`;
}

/** Validate `input` (from YAML, JSON or the CLI) into a router configuration. */
export function parseRouterConfig(input: unknown): ResolvedRouterConfig {
  const r = routerConfigSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ConfigError(
      `Invalid router configuration at "${i.path.join(".") || "(root)"}": ${i.message}`,
    );
  }
  const cfg = r.data;
  const names = new Set<string>();
  const interfaces: ResolvedInterface[] = cfg.interfaces.map((ic) => {
    if (names.has(ic.name)) throw new ConfigError(`Router interface "${ic.name}" is defined twice`);
    names.add(ic.name);
    const out: ResolvedInterface = { name: ic.name, url: ic.url };
    if (ic.cidr !== undefined) {
      const c = parse_cidr(ic.cidr);
      if (!c || c.addr.length !== 4) {
        throw new ConfigError(
          `Router interface "${ic.name}": cidr "${ic.cidr}": expected IPv4/prefix like 10.1.0.1/24`,
        );
      }
      out.ipv4 = c;
    }
    if (ic.cidr6 !== undefined) {
      const c = parse_cidr(ic.cidr6);
      if (!c || c.addr.length !== 16) {
        throw new ConfigError(
          `Router interface "${ic.name}": cidr6 "${ic.cidr6}": expected IPv6/prefix like fd01::1/64`,
        );
      }
      if (c.addr[0] === 0xfe && (c.addr[1] & 0xc0) === 0x80) {
        throw new ConfigError(
          `Router interface "${ic.name}": cidr6 "${ic.cidr6}": a link-local address is configured automatically`,
        );
      }
      out.ipv6 = c;
    }
    if (!out.ipv4 && !out.ipv6) {
      throw new ConfigError(
        `Router interface "${ic.name}": give it an address (cidr and/or cidr6)`,
      );
    }
    if (ic.ra) {
      if (!out.ipv6 || out.ipv6.prefix !== 64) {
        throw new ConfigError(
          `Router interface "${ic.name}": ra needs a /64 IPv6 prefix (cidr6), for SLAAC (RFC 4862 §5.5.3)`,
        );
      }
      out.ra = ic.ra === true ? {} : ic.ra;
    }
    if (ic.mac !== undefined) {
      if (Math.floor(ic.mac / 2 ** 40) & 1) {
        throw new ConfigError(`Router interface "${ic.name}": mac: expected a unicast MAC`);
      }
      out.mac = ic.mac;
    }
    return out;
  });
  const routes = (cfg.routes ?? []).map((rt) => {
    const dest = parse_cidr(rt.dest);
    if (!dest) throw new ConfigError(`Route "${rt.dest}": expected a prefix like 10.9.0.0/16`);
    const via = parse_addr(rt.via);
    if (!via) throw new ConfigError(`Route ${rt.dest}: via "${rt.via}": expected an address`);
    if (via.length !== dest.addr.length) {
      throw new ConfigError(`Route ${rt.dest}: via "${rt.via}" is of another address family`);
    }
    const on = interfaces.some((i) => {
      const c = via.length === 4 ? i.ipv4 : i.ipv6;
      return c !== undefined && prefix_match(c.addr, via, c.prefix);
    });
    if (!on) {
      throw new ConfigError(
        `Route ${rt.dest}: via "${rt.via}" is on no interface's prefix (the gateway must be on-link)`,
      );
    }
    return { dest: network_of(dest), via };
  });
  return { interfaces, routes };
}

/**
 * One `--iface NAME=URL,CIDR[,CIDR6]` of the CLI: the trailing comma-separated parts that parse as
 * prefixes are the addresses (one IPv4, one IPv6, either order); the rest is the URL.
 */
export function parseIfaceSpec(text: string): RouterInterfaceConfig {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw new ConfigError(`--iface "${text}": expected NAME=URL,CIDR[,CIDR6]`);
  }
  const name = text.slice(0, eq);
  const parts = text.slice(eq + 1).split(",");
  const out: RouterInterfaceConfig = { name, url: "" };
  while (parts.length > 1) {
    const last = parts[parts.length - 1];
    const c = parse_cidr(last);
    if (!c) break;
    const key = c.addr.length === 4 ? "cidr" : "cidr6";
    if (out[key] !== undefined) {
      throw new ConfigError(
        `--iface "${text}": two ${c.addr.length === 4 ? "IPv4" : "IPv6"} prefixes`,
      );
    }
    out[key] = last;
    parts.pop();
  }
  out.url = parts.join(",");
  if (!out.url || (!out.cidr && !out.cidr6)) {
    throw new ConfigError(`--iface "${text}": expected NAME=URL,CIDR[,CIDR6]`);
  }
  return out;
}

/** One `--route DEST=VIA` of the CLI (`default` means 0.0.0.0/0, or ::/0 with an IPv6 VIA). */
export function parseRouteSpec(text: string): { dest: string; via: string } {
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1) {
    throw new ConfigError(`--route "${text}": expected DEST=VIA like 10.9.0.0/16=10.2.0.254`);
  }
  let dest = text.slice(0, eq);
  const via = text.slice(eq + 1);
  if (dest === "default") dest = via.includes(":") ? "::/0" : "0.0.0.0/0";
  return { dest, via };
}
