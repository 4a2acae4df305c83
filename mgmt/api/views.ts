/** How node objects look in the API: plain JSON, MACs as strings, VLAN modes as their syntax. */

import type { Endpoint } from "../../core/endpoint.ts";
import { formatMac } from "../../core/mac.ts";
import type { Port } from "../../switch/port.ts";
import { formatVlanMode } from "../../switch/vlan.ts";
import { format_addr } from "../../stack/addr.ts";
import { format_endpoint } from "../../stack/socket/errors.ts";
import { ReconnectingEndpoint } from "../../cable/reconnect.ts";
import { format_cidr } from "../../router/config.ts";
import type {
  CableInfo,
  ManagedGateway,
  ManagedRouter,
  ManagedStack,
  ManagedSwitch,
  Node,
} from "../node.ts";

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

export function stackView(s: ManagedStack) {
  const st = s.stack;
  const nic = st.endpoint.stats();
  const svc = s.spec.service;
  return {
    name: s.name,
    switch: s.spec.switch ?? null,
    url: s.spec.url ?? null,
    port: s.port?.number ?? null,
    mac: formatMac(st.mac),
    ipv4: s.spec.ipv4 ?? null,
    ipv6: [...(s.spec.ipv6 ?? [])],
    gateways: [...(s.spec.gateways ?? [])],
    addresses: st.addressTexts(),
    service: svc ? { ...svc, accepted: s.service?.accepted ?? 0 } : null,
    tcpConnections: st.tcp.connections.length,
    sockets: st.tcp.connections.slice(0, 256).map((t) => ({
      state: t.state,
      local: format_endpoint(t.localAddr, t.localPort),
      remote: format_endpoint(t.remoteAddr, t.remotePort),
    })),
    framesIn: nic.framesIn,
    bytesIn: nic.bytesIn,
    framesOut: nic.framesOut,
    bytesOut: nic.bytesOut,
    drops: { ...nic.drops },
  };
}

/** A reconnecting endpoint's re-dial state (tcp://, tls://), else null. */
function reconnectOf(ep: Endpoint | undefined) {
  return ep instanceof ReconnectingEndpoint
    ? { connects: ep.connects, failures: ep.failures, lastError: ep.lastError ?? null }
    : null;
}

export function cableView(c: CableInfo) {
  if (c.direction === "join") {
    // Side A's counters: frames in came from A's wire and went to B, frames out went to A.
    const { a, b, up } = c.join;
    const s = a.stats();
    return {
      switch: null,
      name: c.join.name,
      direction: c.direction,
      url: c.url,
      peer: c.peer,
      port: null,
      link: up[0] && up[1] ? "up" as const : "down" as const,
      framesIn: s.framesIn,
      framesOut: s.framesOut,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      drops: { ...s.drops, ...prefixed("peer.", b.stats().drops) },
      reconnect: reconnectOf(a) ?? reconnectOf(b),
      accepted: null,
      refused: {} as Record<string, number>,
    };
  }
  if (c.direction === "listen") {
    return {
      switch: c.switch,
      name: null,
      direction: c.direction,
      url: c.url,
      peer: null,
      port: null,
      link: c.listener ? "listening" as const : "closed" as const,
      framesIn: 0,
      framesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      drops: {},
      reconnect: null,
      accepted: c.listener?.accepted ?? 0,
      refused: { ...c.listener?.refused } as Record<string, number>,
    };
  }
  const ep = c.port?.endpoint;
  const s = ep?.stats();
  return {
    switch: c.switch,
    name: null,
    direction: c.direction,
    url: c.url,
    peer: null,
    port: c.port?.number ?? null,
    link: c.port ? (c.port.linkUp ? "up" as const : "down" as const) : "unplugged" as const,
    framesIn: s?.framesIn ?? 0,
    framesOut: s?.framesOut ?? 0,
    bytesIn: s?.bytesIn ?? 0,
    bytesOut: s?.bytesOut ?? 0,
    drops: { ...s?.drops },
    reconnect: reconnectOf(ep),
    accepted: null,
    refused: {} as Record<string, number>,
  };
}

export function gatewayView(g: ManagedGateway) {
  const gw = g.gateway;
  return {
    name: g.name,
    switch: g.spec.switch ?? null,
    url: g.spec.url ?? null,
    port: g.port?.number ?? null,
    cidr: g.spec.cidr,
    addresses: gw.stack.addressTexts(),
    dhcp: g.spec.dhcp !== undefined,
    dns: g.spec.dns ?? false,
    forwards: gw.forwards(),
    leases: gw.leases().length,
    counters: gw.counters(),
  };
}

export function routerView(r: ManagedRouter) {
  const rt = r.router;
  const st = rt.stats;
  return {
    name: r.name,
    interfaces: rt.ports.map((p) => {
      const nic = p.stack.endpoint.stats();
      const given = r.spec.interfaces.find((i) => i.name === p.name);
      return {
        name: p.name,
        switch: given?.switch ?? null,
        url: given?.switch === undefined ? (given?.url ?? p.stack.endpoint.url) : null,
        port: r.ports.get(p.name)?.number ?? null,
        mac: formatMac(p.stack.mac),
        addresses: p.stack.addressTexts(),
        advertising: p.ra !== undefined,
        forwardedOut: p.forwardedOut,
        framesIn: nic.framesIn,
        framesOut: nic.framesOut,
        drops: { ...nic.drops },
      };
    }),
    routes: rt.table.entries().map((e) => ({
      dest: format_cidr(e.dest),
      via: e.via ? format_addr(e.via) : null,
      interface: rt.ports[e.port].name,
      kind: e.kind,
    })),
    forwarded4: st.forwarded4,
    forwarded6: st.forwarded6,
    bytes: st.bytes,
    fragmentsOut: st.fragmentsOut,
    icmpErrors: { ...st.icmpErrors },
    localEcho: st.localEcho,
    drops: { ...st.drops },
  };
}

function prefixed(prefix: string, counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [prefix + k, v]));
}
