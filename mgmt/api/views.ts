/** How node objects look in the API: plain JSON, MACs as strings, VLAN modes as their syntax. */

import { formatMac } from "../../core/mac.ts";
import type { Port } from "../../switch/port.ts";
import { formatVlanMode } from "../../switch/vlan.ts";
import type { ManagedSwitch, Node } from "../node.ts";

export function nodeView(node: Node) {
  return { id: node.id, version: node.version, uptimeSec: node.uptimeSec, roles: node.roles };
}

export function switchView(m: ManagedSwitch) {
  const sw = m.switch;
  return {
    name: sw.name,
    maxPorts: sw.maxPorts,
    hub: sw.hub,
    mtu: sw.mtu,
    macLimit: sw.fdb.limit,
    ageingSec: sw.fdb.ageingSec,
    sock: m.server?.dir ?? null,
    portsInUse: sw.ports().length,
    fdbSize: sw.fdb.size,
  };
}

export function portView(p: Port) {
  const c = p.counters;
  return {
    port: p.number,
    endpoint: p.endpoint.url,
    description: p.description,
    vlan: formatVlanMode(p.vlan),
    enabled: p.enabled,
    link: p.linkUp ? "up" as const : "down" as const,
    mtu: p.mtu,
    framesIn: c.framesIn,
    bytesIn: c.bytesIn,
    framesOut: c.framesOut,
    bytesOut: c.bytesOut,
    drops: { ...c.drops },
    endpointDrops: { ...p.endpoint.stats().drops },
  };
}

/** The MAC table as the API shows it: live entries, sorted by VLAN, then MAC. */
export function fdbView(m: ManagedSwitch, nowMs: number, port?: number) {
  return m.switch.fdb.entries(Math.floor(nowMs / 1000))
    .filter((e) => port === undefined || e.port === port)
    .sort((a, b) => a.vlan - b.vlan || a.mac - b.mac)
    .map((e) => ({ mac: formatMac(e.mac), vlan: e.vlan, port: e.port, ageSec: e.age }));
}
