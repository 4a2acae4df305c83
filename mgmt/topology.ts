/**
 * The declarative topology file (`weft up FILE.yaml`): switches with their options, port VLANs,
 * the cables they dial and the cables they accept, and the API address.
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
 * ```
 *
 * Parsing is all or nothing: YAML syntax, unknown keys, wrong types and bad values (VLAN modes,
 * ranges) are reported with the file's line and column, before anything is created.
 */

import { LineCounter, parseDocument, stringify } from "yaml";
import { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import { formatVlanMode, parseVlanMode, type VlanMode } from "../switch/vlan.ts";
import { LIMITS, type Node, SWITCH_NAME } from "./node.ts";
import { checkStackText, type StackSpec } from "./stack_resource.ts";

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

const TopologyFile = z.strictObject({
  api: z.string().optional(),
  switches: z.array(SwitchEntry).default([]),
  stacks: z.array(StackEntry).default([]),
});

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
  if (switches.length === 0 && stacks.length === 0 && !opts.allowEmpty) {
    throw new ConfigError(`${where(["switches"])}: switches: a topology needs a switch or a stack`);
  }
  return { api: parsed.data.api, switches, stacks };
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
  return stringify({
    ...(api ? { api } : {}),
    ...(switches.length > 0 ? { switches } : {}),
    ...(stacks.length > 0 ? { stacks } : {}),
  });
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
