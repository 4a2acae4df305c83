/**
 * `weft apply`'s plan: the difference between a running node's topology (as `weft export` shows
 * it) and a topology file, as a list of API requests, each with the request that undoes it.
 *
 * What changes in place and what is replaced follows what a running node can change live
 * (node.ts): a switch's hub, MTU, ageing and VLAN configuration are patched; its port count, MAC
 * table size or VDE directory can only be had by deleting and creating it again. Cables are
 * identified by (switch, direction, URL) and stacks by name; a stack whose spec differs in any
 * way is replaced (nothing of a stack changes live). Gateways are identified by name too, and one
 * whose spec differs — addressing, DHCP range, DNS, or the forwards in force (an export shows
 * those, topology.ts) — is replaced: deleted and started again from the file. A stack or gateway
 * on a switch that is replaced is replaced too, since deleting a switch refuses while they use it.
 *
 * Order: deletes (gateways, stacks, cables, switches) before creates (switches, patches, cables,
 * stacks, gateways),
 * so names and ports are free when they are taken again, and undoing in reverse order restores
 * the node step by step.
 */

import { formatVlanMode } from "../switch/vlan.ts";
import { LIMITS } from "./node.ts";
import type { StackSpec } from "./stack_resource.ts";
import type { GatewaySpec } from "./node.ts";
import { gatewayEntryOf, stackEntryOf, type SwitchTopology, type Topology } from "./topology.ts";

export interface ApiRequest {
  method: "POST" | "PATCH" | "DELETE";
  path: string;
  body?: unknown;
}

export interface PlanStep {
  sign: "+" | "~" | "-";
  /** One line for people: `+ switch lab (ports 8, hub)`. */
  text: string;
  request: ApiRequest;
  /** The request that puts back what `request` changed. */
  undo: ApiRequest;
}

interface SwitchSettings {
  ports: number;
  hub: boolean;
  mtu: number;
  macLimit: number;
  ageingSec: number;
  sock: string | null;
  vlans: Record<string, string>;
}

function settingsOf(s: SwitchTopology): SwitchSettings {
  const vlans: Record<string, string> = {};
  for (const [port, mode] of [...s.portVlans].sort((a, b) => a[0] - b[0])) {
    vlans[String(port)] = formatVlanMode(mode);
  }
  return {
    ports: s.ports ?? LIMITS.ports.dflt,
    hub: s.hub ?? false,
    mtu: s.mtu ?? LIMITS.mtu.dflt,
    macLimit: s.macLimit ?? LIMITS.macLimit.dflt,
    ageingSec: s.ageingSec ?? LIMITS.ageingSec.dflt,
    sock: s.sock ?? null,
    vlans,
  };
}

function switchCreate(name: string, s: SwitchSettings): ApiRequest {
  return {
    method: "POST",
    path: "/api/v1/switches",
    body: {
      name,
      maxPorts: s.ports,
      hub: s.hub,
      mtu: s.mtu,
      macLimit: s.macLimit,
      ageingSec: s.ageingSec,
      ...(s.sock === null ? {} : { sock: s.sock }),
      vlans: s.vlans,
    },
  };
}

const switchDelete = (name: string): ApiRequest => ({
  method: "DELETE",
  path: `/api/v1/switches/${encodeURIComponent(name)}`,
});

type Direction = "connect" | "listen";

function cableCreate(sw: string, direction: Direction, url: string): ApiRequest {
  return { method: "POST", path: "/api/v1/cables", body: { switch: sw, url, direction } };
}

function cableDelete(sw: string, direction: Direction, url: string): ApiRequest {
  const q = new URLSearchParams({ switch: sw, url, direction });
  return { method: "DELETE", path: `/api/v1/cables?${q}` };
}

const stackCreate = (s: StackSpec): ApiRequest => ({
  method: "POST",
  path: "/api/v1/stacks",
  body: stackEntryOf(s),
});

const stackDelete = (name: string): ApiRequest => ({
  method: "DELETE",
  path: `/api/v1/stacks/${encodeURIComponent(name)}`,
});

const gatewayCreate = (g: GatewaySpec): ApiRequest => ({
  method: "POST",
  path: "/api/v1/gateways",
  body: gatewayEntryOf(g),
});

const gatewayDelete = (name: string): ApiRequest => ({
  method: "DELETE",
  path: `/api/v1/gateways/${encodeURIComponent(name)}`,
});

function describeGateway(g: GatewaySpec): string {
  const parts = [g.switch !== undefined ? `on ${g.switch}` : `via ${g.url}`, g.cidr];
  if (g.dhcp) parts.push(`dhcp ${g.dhcp.start}-${g.dhcp.end}`);
  if (g.dns) parts.push("dns");
  if (g.forwards?.length) parts.push(`${g.forwards.length} forward(s)`);
  return parts.join(", ");
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function describeSwitch(s: SwitchSettings): string {
  const parts = [`ports ${s.ports}`, `mtu ${s.mtu}`];
  if (s.hub) parts.push("hub");
  if (s.sock) parts.push(`sock ${s.sock}`);
  const v = Object.entries(s.vlans).map(([p, m]) => `${p}=${m}`);
  if (v.length) parts.push(`vlans ${v.join(" ")}`);
  return parts.join(", ");
}

function describeStack(s: StackSpec): string {
  const where = s.switch !== undefined ? `on ${s.switch}` : `via ${s.url}`;
  const addrs = [s.ipv4, ...(s.ipv6 ?? [])].filter((a) => a !== undefined).join(" ");
  const svc = s.service ? `, ${s.service.kind} on ${s.service.port}` : "";
  return `${where}, ${addrs}${svc}`;
}

/** The steps that turn `live` into `want`; empty when they are the same. */
export function planApply(live: Topology, want: Topology): PlanStep[] {
  const liveSw = new Map(live.switches.map((s) => [s.name, s]));
  const wantSw = new Map(want.switches.map((s) => [s.name, s]));
  const liveSt = new Map(live.stacks.map((s) => [s.name, s]));
  const wantSt = new Map(want.stacks.map((s) => [s.name, s]));

  // Switches that must be created afresh: new ones and those with a setting fixed at creation.
  const replaced = new Map<string, string>();
  for (const [name, w] of wantSw) {
    const l = liveSw.get(name);
    if (!l) continue;
    const a = settingsOf(l), b = settingsOf(w);
    const fixed = (["ports", "macLimit", "sock"] as const).filter((k) => a[k] !== b[k]);
    if (fixed.length > 0) {
      replaced.set(name, fixed.map((k) => `${k} ${a[k]} → ${b[k]}`).join(", "));
    }
  }
  const gone = (name: string) => !wantSw.has(name) || replaced.has(name);
  const fresh = (name: string) => !liveSw.has(name) || replaced.has(name);

  const deletes: PlanStep[] = [];
  const creates: PlanStep[] = [];

  // 0. Gateways removed, changed, or on a switch that goes away.
  const liveGw = new Map(live.gateways.map((g) => [g.name, g]));
  const wantGw = new Map(want.gateways.map((g) => [g.name, g]));
  const gatewayRecreate = new Set<string>();
  for (const [name, l] of liveGw) {
    const w = wantGw.get(name);
    const moved = l.switch !== undefined && gone(l.switch);
    if (w && same(gatewayEntryOf(l), gatewayEntryOf(w)) && !moved) continue;
    if (w) gatewayRecreate.add(name);
    deletes.push({
      sign: "-",
      text: `- gateway ${name}${w ? " (replaced)" : ""}`,
      request: gatewayDelete(name),
      undo: gatewayCreate(l),
    });
  }

  // 1. Stacks removed, changed, or on a switch that goes away.
  const stackRecreate = new Set<string>();
  for (const [name, l] of liveSt) {
    const w = wantSt.get(name);
    const moved = l.switch !== undefined && gone(l.switch);
    if (w && same(stackEntryOf(l), stackEntryOf(w)) && !moved) continue;
    if (w) stackRecreate.add(name);
    deletes.push({
      sign: "-",
      text: `- stack ${name}${w ? " (replaced)" : ""}`,
      request: stackDelete(name),
      undo: stackCreate(l),
    });
  }

  // 2. Cables that go, 3. switches that go.
  for (const l of live.switches) {
    const w = gone(l.name) ? undefined : wantSw.get(l.name);
    for (const direction of ["connect", "listen"] as const) {
      const keep = new Set(w?.[direction] ?? []);
      for (const url of l[direction]) {
        if (keep.has(url)) continue;
        deletes.push({
          sign: "-",
          text: `- cable ${l.name} ${direction} ${url}`,
          request: cableDelete(l.name, direction, url),
          undo: cableCreate(l.name, direction, url),
        });
      }
    }
  }
  for (const l of live.switches) {
    if (!gone(l.name)) continue;
    const why = replaced.get(l.name);
    deletes.push({
      sign: "-",
      text: `- switch ${l.name}${why ? ` (replaced: ${why})` : ""}`,
      request: switchDelete(l.name),
      undo: switchCreate(l.name, settingsOf(l)),
    });
  }

  // 4. Switches created, 5. switches changed in place.
  for (const w of want.switches) {
    const b = settingsOf(w);
    if (fresh(w.name)) {
      creates.push({
        sign: "+",
        text: `+ switch ${w.name} (${describeSwitch(b)})`,
        request: switchCreate(w.name, b),
        undo: switchDelete(w.name),
      });
      continue;
    }
    const a = settingsOf(liveSw.get(w.name)!);
    const patch: Record<string, unknown> = {};
    const back: Record<string, unknown> = {};
    const changes: string[] = [];
    for (const k of ["hub", "mtu", "ageingSec"] as const) {
      if (a[k] === b[k]) continue;
      patch[k] = b[k];
      back[k] = a[k];
      changes.push(`${k} ${a[k]} → ${b[k]}`);
    }
    if (!same(a.vlans, b.vlans)) {
      patch.vlans = b.vlans;
      back.vlans = a.vlans;
      changes.push(`vlans ${JSON.stringify(a.vlans)} → ${JSON.stringify(b.vlans)}`);
    }
    if (changes.length === 0) continue;
    const path = `/api/v1/switches/${encodeURIComponent(w.name)}`;
    creates.push({
      sign: "~",
      text: `~ switch ${w.name}: ${changes.join(", ")}`,
      request: { method: "PATCH", path, body: patch },
      undo: { method: "PATCH", path, body: back },
    });
  }

  // 6. Cables that come.
  for (const w of want.switches) {
    const l = fresh(w.name) ? undefined : liveSw.get(w.name);
    for (const direction of ["connect", "listen"] as const) {
      const have = new Set(l?.[direction] ?? []);
      for (const url of w[direction]) {
        if (have.has(url)) continue;
        creates.push({
          sign: "+",
          text: `+ cable ${w.name} ${direction} ${url}`,
          request: cableCreate(w.name, direction, url),
          undo: cableDelete(w.name, direction, url),
        });
      }
    }
  }

  // 7. Stacks that come (new or replaced).
  for (const w of want.stacks) {
    if (liveSt.has(w.name) && !stackRecreate.has(w.name)) continue;
    creates.push({
      sign: "+",
      text: `+ stack ${w.name} (${describeStack(w)})`,
      request: stackCreate(w),
      undo: stackDelete(w.name),
    });
  }

  // 8. Gateways that come (new or replaced).
  for (const w of want.gateways) {
    if (liveGw.has(w.name) && !gatewayRecreate.has(w.name)) continue;
    creates.push({
      sign: "+",
      text: `+ gateway ${w.name} (${describeGateway(w)})`,
      request: gatewayCreate(w),
      undo: gatewayDelete(w.name),
    });
  }
  return [...deletes, ...creates];
}
