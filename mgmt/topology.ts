/**
 * The declarative topology file (`weft up FILE.yaml`): switches with their options, port VLANs,
 * the cables they dial and the cables they accept, stacks, gateways, routers, and the API address.
 *
 * ```yaml
 * api: 127.0.0.1:7780          # or "none"
 * switches:
 *   - name: sw0
 *     sock: /run/weft/sw0      # serve the VDE ctl protocol here (optional)
 *     ports: 32
 *     mtu: 1500
 *     vlans: { 1: access:10, 4: "trunk:10,20,native:30" }
 *     connect: [ "tls://hostB:7443?fp=sha256:…&token-file=/etc/weft/tokens" ]
 *     listen: [ "tls://0.0.0.0:7443?token-file=/etc/weft/tokens" ]
 * stacks:
 *   - name: web
 *     switch: sw0              # a switch of this file (or url: vde:///…, tap://…)
 *     ipv4: 10.0.0.2/24        # or dhcp
 *     ipv6: [ auto ]
 *     gateways: [ 10.0.0.1 ]
 *     service: { kind: dir, port: 80, path: /srv/www }   # or echo, or proxy with target
 * gateways:
 *   - name: nat
 *     switch: sw0              # a switch of this file (or url: vde:///…, tap://…)
 *     cidr: 10.0.0.0/24
 *     gatewayAddr: 10.0.0.1    # default: the second address of the cidr
 *     dhcp: { start: 10.0.0.100, end: 10.0.0.199 }
 *     dns: true
 *     forwards: [ { proto: tcp, hostAddr: 127.0.0.1, hostPort: 8080, guestAddr: 10.0.0.2, guestPort: 80 } ]
 * routers:
 *   - name: r1
 *     interfaces:              # each on a switch of this file (or url: …)
 *       - { name: lan0, switch: sw0, cidr: 10.0.0.254/24, cidr6: fd00::1/64, ra: true }
 *       - { name: lan1, switch: sw1, cidr: 10.1.0.1/24 }
 *     routes: [ { dest: 10.9.0.0/16, via: 10.1.0.254 } ]
 * ```
 *
 * A gateway's `forwards` in an export are the ones in force when it is taken: those of the file
 * plus any added through the API since, minus any removed (the API changes the live state, and
 * the export shows the live state). A forward written with `hostPort: 0` is exported with the port
 * the host picked, so such a file is not a fixed point of up → export; give a port for that.
 *
 * Parsing is all or nothing: YAML syntax, unknown keys, wrong types and bad values (VLAN modes,
 * ranges) are reported with the file's line and column, before anything is created.
 */

import { LineCounter, parseDocument, stringify } from "yaml";
import { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import { formatVlanMode, parseVlanMode, type VlanMode } from "../switch/vlan.ts";
import { validateGateway } from "../router/gateway/config.ts";
import { type GatewaySpec, LIMITS, type Node, SWITCH_NAME } from "./node.ts";
import { checkStackText, type StackSpec } from "./stack_resource.ts";
import { checkRouterSpec, routerEntryOf, type RouterSpec } from "./router_resource.ts";

const range = (r: { min: number; max: number }) => z.number().int().min(r.min).max(r.max);

const SwitchEntry = z.strictObject({
  name: z.string().regex(SWITCH_NAME, "letters, digits, _ . - (up to 64)"),
  sock: z.string().min(1).optional(),
  ports: range(LIMITS.ports).optional(),
  hub: z.boolean().optional(),
  mtu: range(LIMITS.mtu).optional(),
  macLimit: range(LIMITS.macLimit).optional(),
  ageingSec: range(LIMITS.ageingSec).optional(),
  vlans: z.record(z.string().regex(/^\d+$/, "a port number"), z.string()).optional(),
  connect: z.array(z.string()).optional(),
  listen: z.array(z.string()).optional(),
});

const StackEntry = z.strictObject({
  name: z.string().regex(SWITCH_NAME, "letters, digits, _ . - (up to 64)"),
  switch: z.string().optional(),
  url: z.string().min(1).optional(),
  ipv4: z.string().optional(),
  ipv6: z.array(z.string()).optional(),
  gateways: z.array(z.string()).optional(),
  service: z.strictObject({
    kind: z.enum(["echo", "dir", "proxy"]),
    port: z.number().int().min(1).max(65535),
    path: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
  }).optional(),
});

const GatewayEntry = z.strictObject({
  name: z.string().regex(SWITCH_NAME, "letters, digits, _ . - (up to 64)"),
  switch: z.string().optional(),
  url: z.string().min(1).optional(),
  cidr: z.string(),
  gatewayAddr: z.string().optional(),
  ip6: z.string().optional(),
  dhcp: z.strictObject({
    start: z.string(),
    end: z.string(),
    leaseSeconds: z.number().int().min(60).max(31_536_000).optional(),
  }).optional(),
  dns: z.boolean().optional(),
  forwards: z.array(z.strictObject({
    proto: z.enum(["tcp", "udp"]),
    hostAddr: z.string(),
    hostPort: z.number().int().min(0).max(65535),
    guestAddr: z.string(),
    guestPort: z.number().int().min(1).max(65535),
  })).optional(),
});

const RouterEntry = z.strictObject({
  name: z.string().regex(SWITCH_NAME, "letters, digits, _ . - (up to 64)"),
  interfaces: z.array(z.strictObject({
    name: z.string(),
    switch: z.string().optional(),
    url: z.string().min(1).optional(),
    cidr: z.string().optional(),
    cidr6: z.string().optional(),
    ra: z.union([
      z.boolean(),
      z.strictObject({
        interval: z.number().optional(),
        lifetime: z.number().int().optional(),
      }),
    ]).optional(),
  })).min(1),
  routes: z.array(z.strictObject({ dest: z.string(), via: z.string() })).optional(),
});

const TopologyFile = z.strictObject({
  api: z.string().optional(),
  switches: z.array(SwitchEntry).default([]),
  stacks: z.array(StackEntry).default([]),
  gateways: z.array(GatewayEntry).default([]),
  routers: z.array(RouterEntry).default([]),
});

/** The key of a gateway entry a validateGateway message is about (for its line and column). */
function gatewayKeyOf(message: string): string | undefined {
  if (/gateway cidr/.test(message)) return "cidr";
  if (/gateway address/.test(message)) return "gatewayAddr";
  if (/IPv6 prefix/.test(message)) return "ip6";
  if (/DHCP|reservation/.test(message)) return "dhcp";
  if (/forward|host port|guest/i.test(message)) return "forwards";
  return undefined;
}

export interface SwitchTopology {
  name: string;
  sock?: string;
  ports?: number;
  hub?: boolean;
  mtu?: number;
  macLimit?: number;
  ageingSec?: number;
  portVlans: [number, VlanMode][];
  connect: string[];
  listen: string[];
}

export interface Topology {
  api?: string;
  switches: SwitchTopology[];
  stacks: StackSpec[];
  gateways: GatewaySpec[];
  routers: RouterSpec[];
}

/** Read and check the topology file `file` (`weft up`, `weft apply`); ConfigError on any problem. */
export async function readTopologyFile(file: string): Promise<Topology> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new ConfigError(`Cannot read topology "${file}": ${(e as Error).message}`);
  }
  return parseTopology(text, file);
}

/** Parse and check a topology; ConfigError `FILE:LINE:COL: …` on any problem. */
export function parseTopology(
  text: string,
  file = "topology.yaml",
  opts: { allowEmpty?: boolean } = {},
): Topology {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return file;
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigError(`${at(e.pos[0])}: ${e.message.split("\n")[0]}`);
  }
  const where = (path: (string | number)[]) => {
    // The deepest node that exists on the path: an unknown key points at its map.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number] } | undefined;
      if (node?.range) return at(node.range[0]);
    }
    return file;
  };
  const parsed = TopologyFile.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    const name = path.join(".") || "(top)";
    throw new ConfigError(`${where(path)}: ${name}: ${issue.message}`);
  }
  const names = new Set<string>();
  const switches = parsed.data.switches.map((s, i) => {
    if (names.has(s.name)) {
      throw new ConfigError(`${where(["switches", i, "name"])}: switch "${s.name}" is named twice`);
    }
    names.add(s.name);
    const portVlans: [number, VlanMode][] = [];
    for (const [port, mode] of Object.entries(s.vlans ?? {})) {
      try {
        portVlans.push([Number(port), parseVlanMode(mode)]);
      } catch (e) {
        throw new ConfigError(`${where(["switches", i, "vlans", port])}: ${(e as Error).message}`);
      }
    }
    return { ...s, portVlans, connect: s.connect ?? [], listen: s.listen ?? [] };
  });
  const stackNames = new Set<string>();
  const stacks = parsed.data.stacks.map((s, i) => {
    if (stackNames.has(s.name)) {
      throw new ConfigError(`${where(["stacks", i, "name"])}: stack "${s.name}" is named twice`);
    }
    stackNames.add(s.name);
    if (s.switch !== undefined && !names.has(s.switch)) {
      throw new ConfigError(
        `${
          where(["stacks", i, "switch"])
        }: stacks.${i}.switch: no switch "${s.switch}" in this file`,
      );
    }
    try {
      checkStackText(s);
    } catch (e) {
      throw new ConfigError(`${where(["stacks", i])}: ${(e as Error).message}`);
    }
    return s as StackSpec;
  });
  const gatewayNames = new Set<string>();
  const gateways = parsed.data.gateways.map((g, i) => {
    if (gatewayNames.has(g.name)) {
      throw new ConfigError(
        `${where(["gateways", i, "name"])}: gateway "${g.name}" is named twice`,
      );
    }
    gatewayNames.add(g.name);
    if ((g.switch === undefined) === (g.url === undefined)) {
      throw new ConfigError(
        `${where(["gateways", i])}: gateways.${i}: give exactly one of switch or url`,
      );
    }
    if (g.switch !== undefined && !names.has(g.switch)) {
      throw new ConfigError(
        `${
          where(["gateways", i, "switch"])
        }: gateways.${i}.switch: no switch "${g.switch}" in this file`,
      );
    }
    try {
      validateGateway({ ...g, dhcp: g.dhcp ?? false });
    } catch (e) {
      const msg = (e as Error).message;
      const key = gatewayKeyOf(msg);
      throw new ConfigError(`${where(["gateways", i, ...(key ? [key] : [])])}: ${msg}`);
    }
    return g as GatewaySpec;
  });
  const routerNames = new Set<string>();
  const routers = parsed.data.routers.map((r, i) => {
    if (routerNames.has(r.name)) {
      throw new ConfigError(`${where(["routers", i, "name"])}: router "${r.name}" is named twice`);
    }
    routerNames.add(r.name);
    r.interfaces.forEach((f, k) => {
      if (f.switch !== undefined && !names.has(f.switch)) {
        throw new ConfigError(
          `${
            where(["routers", i, "interfaces", k, "switch"])
          }: routers.${i}.interfaces.${k}.switch: no switch "${f.switch}" in this file`,
        );
      }
    });
    try {
      checkRouterSpec(r);
    } catch (e) {
      throw new ConfigError(`${where(["routers", i])}: ${(e as Error).message}`);
    }
    return r as RouterSpec;
  });
  const empty = switches.length + stacks.length + gateways.length + routers.length === 0;
  if (empty && !opts.allowEmpty) {
    throw new ConfigError(
      `${where(["switches"])}: switches: a topology needs a switch, a stack, a gateway or a router`,
    );
  }
  return { api: parsed.data.api, switches, stacks, gateways, routers };
}

/**
 * A running node as a topology file that `weft up` accepts: every switch with its options, the
 * VLAN modes of its ports (configured and live), the cables it dialled and the URLs it listens on.
 */
export function exportTopology(node: Node, api?: string): string {
  const switches = node.list().map((m) => {
    const sw = m.switch;
    const vlans: Record<string, string> = {};
    for (const [port, mode] of sw.portVlans) vlans[String(port)] = formatVlanMode(mode);
    for (const p of sw.ports()) {
      const mode = formatVlanMode(p.vlan);
      if (mode !== "access:1" || vlans[String(p.number)] !== undefined) {
        vlans[String(p.number)] = mode;
      }
    }
    return {
      name: sw.name,
      ...(m.server ? { sock: m.server.dir } : {}),
      ports: sw.maxPorts,
      hub: sw.hub,
      mtu: sw.mtu,
      macLimit: sw.fdb.limit,
      ageingSec: sw.fdb.ageingSec,
      ...(Object.keys(vlans).length > 0 ? { vlans } : {}),
      ...(m.connects.length > 0 ? { connect: [...m.connects] } : {}),
      ...(m.listenUrls.length > 0 ? { listen: [...m.listenUrls] } : {}),
    };
  });
  const stacks = node.listStacks().map((s) => stackEntryOf(s.spec));
  // The forwards in force, not those the gateway started with (see the header).
  const gateways = node.listGateways().map((g) =>
    gatewayEntryOf({
      ...g.spec,
      forwards: g.gateway.forwards().map(({ id: _, ...f }) => f),
    })
  );
  const routers = node.listRouters().map((r) => routerEntryOf(r.spec));
  return stringify({
    ...(api ? { api } : {}),
    ...(switches.length > 0 ? { switches } : {}),
    ...(stacks.length > 0 ? { stacks } : {}),
    ...(gateways.length > 0 ? { gateways } : {}),
    ...(routers.length > 0 ? { routers } : {}),
  });
}

/** A gateway spec with only the keys given, in a fixed order (so exports compare as text). */
export function gatewayEntryOf(g: GatewaySpec): GatewaySpec {
  return {
    name: g.name,
    ...(g.switch !== undefined ? { switch: g.switch } : {}),
    ...(g.url !== undefined ? { url: g.url } : {}),
    cidr: g.cidr,
    ...(g.gatewayAddr !== undefined ? { gatewayAddr: g.gatewayAddr } : {}),
    ...(g.ip6 !== undefined ? { ip6: g.ip6 } : {}),
    ...(g.dhcp
      ? {
        dhcp: {
          start: g.dhcp.start,
          end: g.dhcp.end,
          ...(g.dhcp.leaseSeconds !== undefined ? { leaseSeconds: g.dhcp.leaseSeconds } : {}),
        },
      }
      : {}),
    ...(g.dns !== undefined ? { dns: g.dns } : {}),
    ...(g.forwards?.length
      ? {
        forwards: g.forwards.map((f) => ({
          proto: f.proto,
          hostAddr: f.hostAddr,
          hostPort: f.hostPort,
          guestAddr: f.guestAddr,
          guestPort: f.guestPort,
        })),
      }
      : {}),
  };
}

/** A stack spec with only the keys given, in a fixed order (so exports compare as text). */
export function stackEntryOf(s: StackSpec): StackSpec {
  return {
    name: s.name,
    ...(s.switch !== undefined ? { switch: s.switch } : {}),
    ...(s.url !== undefined ? { url: s.url } : {}),
    ...(s.ipv4 !== undefined ? { ipv4: s.ipv4 } : {}),
    ...(s.ipv6?.length ? { ipv6: [...s.ipv6] } : {}),
    ...(s.gateways?.length ? { gateways: [...s.gateways] } : {}),
    ...(s.service
      ? {
        service: {
          kind: s.service.kind,
          port: s.service.port,
          ...(s.service.path !== undefined ? { path: s.service.path } : {}),
          ...(s.service.target !== undefined ? { target: s.service.target } : {}),
        },
      }
      : {}),
  };
}
