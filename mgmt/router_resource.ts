/**
 * Routers as a node resource: the spec a user gives (API, topology file, `weft router` flags),
 * its validation, and its canonical form for `weft export`. A router's interfaces plug into a
 * switch of the node (in-process) or any endpoint URL; its addresses, advertisements and static
 * routes are router/config.ts's model, which checks them (families, on-link gateways, /64 for
 * RAs) before anything opens.
 *
 * ```yaml
 * routers:
 *   - name: r1
 *     interfaces:
 *       - { name: lan1, switch: sw1, cidr: 10.1.0.1/24, cidr6: fd01::1/64, ra: true }
 *       - { name: lan2, url: vde:///run/sw2, cidr: 10.2.0.1/24 }
 *     routes:
 *       - { dest: 10.9.0.0/16, via: 10.2.0.254 }
 * ```
 *
 * Nothing of a router changes live (router/router.ts fixes interfaces and routes when it starts):
 * `weft apply` replaces a router whose spec differs.
 */

import { ConfigError } from "../core/errors.ts";
import { parseRouterConfig, type RaConfig, type ResolvedRouterConfig } from "../router/config.ts";

export interface RouterInterfaceSpec {
  name: string;
  /** A switch of this node, attached in-process (exclusive with `url`). */
  switch?: string;
  /** Any endpoint URL (vde://…, tap://…, tcp://…). */
  url?: string;
  /** IPv4 address with prefix, e.g. `10.1.0.1/24`. */
  cidr?: string;
  /** IPv6 address with prefix, e.g. `fd01::1/64`. */
  cidr6?: string;
  /** Send router advertisements for cidr6's /64 (RFC 4861 §6.2). */
  ra?: boolean | RaConfig;
}

export interface RouteSpec {
  /** A prefix, e.g. `10.9.0.0/16` or `::/0`. */
  dest: string;
  /** An on-link gateway. */
  via: string;
}

export interface RouterSpec {
  name: string;
  interfaces: RouterInterfaceSpec[];
  routes?: RouteSpec[];
}

/**
 * Check a spec (all of it, before anything opens): exactly one of switch or url per interface,
 * then router/config.ts's rules. Returns the resolved configuration; the URL of an interface on a
 * switch is `switch:NAME` there, which nothing opens (the node plugs it into the switch).
 */
export function checkRouterSpec(spec: RouterSpec): ResolvedRouterConfig {
  const interfaces = spec.interfaces ?? [];
  for (const i of interfaces) {
    if ((i.switch === undefined) === (i.url === undefined)) {
      throw new ConfigError(
        `Router "${spec.name}" interface "${i.name}": give exactly one of switch or url`,
      );
    }
  }
  try {
    return parseRouterConfig({
      interfaces: interfaces.map(({ switch: sw, ...i }) => ({
        ...i,
        url: i.url ?? `switch:${sw}`,
      })),
      routes: spec.routes ?? [],
    });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigError(`Router "${spec.name}": ${e.message}`);
  }
}

/** A router spec with only the keys given, in a fixed order (so exports compare as text). */
export function routerEntryOf(r: RouterSpec): RouterSpec {
  return {
    name: r.name,
    interfaces: r.interfaces.map((i) => ({
      name: i.name,
      ...(i.switch !== undefined ? { switch: i.switch } : {}),
      ...(i.url !== undefined ? { url: i.url } : {}),
      ...(i.cidr !== undefined ? { cidr: i.cidr } : {}),
      ...(i.cidr6 !== undefined ? { cidr6: i.cidr6 } : {}),
      ...(i.ra === true || (typeof i.ra === "object" && Object.keys(i.ra).length === 0)
        ? { ra: true }
        : typeof i.ra === "object"
        ? {
          ra: {
            ...(i.ra.interval !== undefined ? { interval: i.ra.interval } : {}),
            ...(i.ra.lifetime !== undefined ? { lifetime: i.ra.lifetime } : {}),
          },
        }
        : {}),
    })),
    ...(r.routes?.length ? { routes: r.routes.map((x) => ({ dest: x.dest, via: x.via })) } : {}),
  };
}

/** The switches of this node a router's interfaces plug into. */
export function routerSwitches(r: RouterSpec): string[] {
  return r.interfaces.flatMap((i) => (i.switch === undefined ? [] : [i.switch]));
}
