/**
 * `weft apply`'s plan: the difference between a running node's topology (as `weft export` shows
 * it) and a topology file, as a list of API requests, each with the request that undoes it.
 *
 * What changes in place and what is replaced follows what a running node can change live
 * (node.ts): a switch's hub, MTU, ageing and VLAN configuration are patched; its port count, MAC
 * table size or VDE directory can only be had by deleting and creating it again. Cables are
 * identified by (switch, direction, URL) and stacks by name; a stack whose spec differs in any
 * way is replaced (nothing of a stack changes live). Gateways and routers are identified by name
 * too, and one whose spec differs — for a gateway addressing, DHCP range, DNS, or the forwards in
 * force (an export shows those, topology.ts); for a router its interfaces or routes — is
 * replaced: deleted and started again from the file. A stack, gateway or router on a switch that
 * is replaced is replaced too, since deleting a switch refuses while they use it.
 *
 * Order: deletes (routers, gateways, stacks, cables, switches) before creates (switches, patches,
 * cables, stacks, gateways, routers), so names and ports are free when they are taken again, and
 * undoing in reverse order restores the node step by step.
 */

import { formatVlanMode } from "../switch/vlan.ts";
import { LIMITS } from "./node.ts";
import type { StackSpec } from "./stack_resource.ts";
import type { GatewaySpec } from "./node.ts";
import { gatewayEntryOf, stackEntryOf, type SwitchTopology, type Topology } from "./topology.ts";
import { routerEntryOf, type RouterSpec, routerSwitches } from "./router_resource.ts";

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

function describeRouter(r: RouterSpec): string {
  const parts = r.interfaces.map((i) =>
    `${i.name} ${i.switch !== undefined ? `on ${i.switch}` : `via ${i.url}`} ` +
    [i.cidr, i.cidr6].filter((a) => a !== undefined).join(" ") + (i.ra ? " ra" : "")
  );
  if (r.routes?.length) parts.push(`${r.routes.length} route(s)`);
  return parts.join(", ");
}

/**
 * A resource that is identified by name and replaced rather than changed (stacks, gateways,
 * routers): its API collection, its canonical form for comparing, the switches of the node it
 * plugs into, and its one-line description.
 */
interface ReplacedByName<T extends { name: string }> {
  kind: string;
  path: string;
  entryOf: (t: T) => unknown;
  switchesOf: (t: T) => string[];
  describe: (t: T) => string;
}

const STACKS: ReplacedByName<StackSpec> = {
  kind: "stack",
  path: "/api/v1/stacks",
  entryOf: stackEntryOf,
  switchesOf: (s) => (s.switch === undefined ? [] : [s.switch]),
  describe: describeStack,
};

const GATEWAYS: ReplacedByName<GatewaySpec> = {
  kind: "gateway",
  path: "/api/v1/gateways",
  entryOf: gatewayEntryOf,
  switchesOf: (g) => (g.switch === undefined ? [] : [g.switch]),
  describe: describeGateway,
};

const ROUTERS: ReplacedByName<RouterSpec> = {
  kind: "router",
  path: "/api/v1/routers",
  entryOf: routerEntryOf,
  switchesOf: routerSwitches,
  describe: describeRouter,
};

/**
 * The delete steps of one kind — items gone from the file, changed, or on a switch that goes —
 * and the create steps that bring the new and the replaced ones.
 */
function replaceSteps<T extends { name: string }>(
  r: ReplacedByName<T>,
  live: T[],
  want: T[],
  switchGone: (name: string) => boolean,
): { deletes: PlanStep[]; creates: PlanStep[] } {
  const create = (t: T): ApiRequest => ({ method: "POST", path: r.path, body: r.entryOf(t) });
  const remove = (name: string): ApiRequest => ({
    method: "DELETE",
    path: `${r.path}/${encodeURIComponent(name)}`,
  });
  const wanted = new Map(want.map((t) => [t.name, t]));
  const kept = new Set<string>();
  const deletes: PlanStep[] = [];
  for (const l of live) {
    const w = wanted.get(l.name);
    const moved = r.switchesOf(l).some(switchGone);
    if (w && same(r.entryOf(l), r.entryOf(w)) && !moved) {
      kept.add(l.name);
      continue;
    }
    deletes.push({
      sign: "-",
      text: `- ${r.kind} ${l.name}${w ? " (replaced)" : ""}`,
      request: remove(l.name),
      undo: create(l),
    });
  }
  const creates = want.filter((w) => !kept.has(w.name)).map((w): PlanStep => ({
    sign: "+",
    text: `+ ${r.kind} ${w.name} (${r.describe(w)})`,
    request: create(w),
    undo: remove(w.name),
  }));
  return { deletes, creates };
}

/** The steps that turn `live` into `want`; empty when they are the same. */
export function planApply(live: Topology, want: Topology): PlanStep[] {
  const liveSw = new Map(live.switches.map((s) => [s.name, s]));
  const wantSw = new Map(want.switches.map((s) => [s.name, s]));

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

  // 0. Routers, gateways and stacks removed, changed, or on a switch that goes away.
  const stacks = replaceSteps(STACKS, live.stacks, want.stacks, gone);
  const gateways = replaceSteps(GATEWAYS, live.gateways, want.gateways, gone);
  const routers = replaceSteps(ROUTERS, live.routers, want.routers, gone);
  deletes.push(...routers.deletes, ...gateways.deletes, ...stacks.deletes);

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

  // 7. Stacks, gateways and routers that come (new or replaced).
  creates.push(...stacks.creates, ...gateways.creates, ...routers.creates);
  return [...deletes, ...creates];
}
