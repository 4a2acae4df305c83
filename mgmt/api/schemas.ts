/**
 * The API's shapes, declared once with zod: the same schemas validate request bodies and
 * parameters and produce `/openapi.json`, so the document cannot drift from the checks. JSON
 * fields are camelCase everywhere; request objects are strict, so a misspelt field is a 400
 * naming it rather than a silently ignored change.
 */

import { z } from "@hono/zod-openapi";
import { LIMITS, SWITCH_NAME } from "../node.ts";

export const ErrorBody = z.object({ error: z.string() }).openapi("Error");

const VlanMap = z.record(
  z.string().regex(/^[1-9][0-9]{0,4}$/, "a port number"),
  z.string().max(1000),
).openapi({
  description: "VLAN mode by port number, for ports in use and ports that attach later",
  example: { "1": "access:10", "4": "trunk:10,20,native:30" },
});

function int(r: { min: number; max: number }, description: string) {
  return z.number().int().min(r.min).max(r.max).openapi({ description });
}

export const SwitchNameParam = z.object({
  name: z.string().regex(SWITCH_NAME).openapi({
    param: { name: "name", in: "path" },
    example: "sw0",
  }),
});

export const PortParam = SwitchNameParam.extend({
  n: z.string().regex(/^[1-9][0-9]{0,4}$/, "expected a port number from 1 to 65535").openapi({
    param: { name: "n", in: "path" },
    example: "1",
  }),
});

export const NodeInfo = z.object({
  id: z.string(),
  version: z.string(),
  uptimeSec: z.number().int(),
  roles: z.array(z.string()),
}).openapi("Node");

export const SwitchInfo = z.object({
  name: z.string(),
  maxPorts: z.number().int(),
  hub: z.boolean(),
  mtu: z.number().int(),
  macLimit: z.number().int(),
  ageingSec: z.number().int(),
  sock: z.string().nullable().openapi({ description: "VDE switch directory, if served" }),
  portsInUse: z.number().int(),
  fdbSize: z.number().int(),
}).openapi("Switch");

export const SwitchCreate = z.strictObject({
  name: z.string().regex(SWITCH_NAME, "expected 1-64 of A-Z a-z 0-9 _ . - starting alnum"),
  maxPorts: int(LIMITS.ports, "Highest port number (fixed at creation)").optional(),
  hub: z.boolean().optional(),
  mtu: int(LIMITS.mtu, "Default port MTU: largest payload, header and tag excluded").optional(),
  macLimit: int(LIMITS.macLimit, "MAC table size (fixed at creation)").optional(),
  ageingSec: int(LIMITS.ageingSec, "MAC ageing time").optional(),
  sock: z.string().min(1).max(4096).optional().openapi({
    description: "Serve the VDE ctl protocol in this directory",
  }),
  vlans: VlanMap.optional(),
}).openapi("SwitchCreate");

export const SwitchPatch = z.strictObject({
  hub: z.boolean().optional(),
  mtu: int(LIMITS.mtu, "Applied live, to existing ports too").optional(),
  ageingSec: int(LIMITS.ageingSec, "Applied live").optional(),
  macLimit: int(LIMITS.macLimit, "Fixed at creation: only the current value is accepted")
    .optional(),
  maxPorts: int(LIMITS.ports, "Fixed at creation: only the current value is accepted").optional(),
  vlans: VlanMap.optional().openapi({
    description: "Replaces the whole VLAN configuration; ports not named get access:1",
  }),
}).openapi("SwitchPatch");

const Counts = z.record(z.string(), z.number());

export const PortInfo = z.object({
  port: z.number().int(),
  endpoint: z.string(),
  description: z.string(),
  vlan: z.string().openapi({ example: "access:10" }),
  enabled: z.boolean(),
  link: z.enum(["up", "down"]),
  mtu: z.number().int(),
  framesIn: z.number(),
  bytesIn: z.number(),
  framesOut: z.number(),
  bytesOut: z.number(),
  drops: Counts.openapi({ description: "Frames the port dropped, by reason" }),
  endpointDrops: Counts.openapi({ description: "Frames the endpoint itself dropped" }),
}).openapi("Port");

export const PortPatch = z.strictObject({
  vlan: z.string().max(1000).optional().openapi({
    description: "access:ID or trunk:IDS[,native:ID] (IDS: all | 10,20-29)",
    example: "access:10",
  }),
  enabled: z.boolean().optional(),
}).openapi("PortPatch");

export const FdbEntry = z.object({
  mac: z.string().openapi({ example: "02:00:00:00:00:01" }),
  vlan: z.number().int(),
  port: z.number().int(),
  ageSec: z.number().int(),
}).openapi("FdbEntry");

export const FdbQuery = z.object({
  port: z.string().regex(/^[1-9][0-9]{0,4}$/).optional().openapi({
    param: { name: "port", in: "query" },
    description: "Only this port's entries",
  }),
});

export const Flushed = z.object({ removed: z.number().int() }).openapi("Flushed");

export const NameParam = z.object({
  name: z.string().regex(SWITCH_NAME).openapi({
    param: { name: "name", in: "path" },
    example: "web",
  }),
});

export const ServiceSpec = z.strictObject({
  kind: z.enum(["echo", "dir", "proxy"]),
  port: z.number().int().min(1).max(65535),
  path: z.string().min(1).max(4096).optional().openapi({ description: "dir: the directory" }),
  target: z.string().min(1).max(300).optional().openapi({
    description: "proxy: HOST:PORT on the node's host",
  }),
}).openapi("Service");

export const StackCreate = z.strictObject({
  name: z.string().regex(SWITCH_NAME, "expected 1-64 of A-Z a-z 0-9 _ . - starting alnum"),
  switch: z.string().regex(SWITCH_NAME).optional().openapi({
    description: "Attach to this switch of the node (or give url)",
  }),
  url: z.string().min(1).max(4096).optional().openapi({ description: "Any endpoint URL" }),
  ipv4: z.string().max(64).optional().openapi({ example: "10.0.0.2/24", description: "or dhcp" }),
  ipv6: z.array(z.string().max(64)).max(16).optional().openapi({ example: ["auto"] }),
  gateways: z.array(z.string().max(64)).max(16).optional(),
  service: ServiceSpec.optional(),
}).openapi("StackCreate");

export const StackInfo = z.object({
  name: z.string(),
  switch: z.string().nullable(),
  url: z.string().nullable().openapi({ description: "The endpoint URL, when not on a switch" }),
  port: z.number().int().nullable().openapi({ description: "The switch port it is plugged into" }),
  mac: z.string(),
  ipv4: z.string().nullable().openapi({ description: "As configured: CIDR or dhcp" }),
  ipv6: z.array(z.string()),
  gateways: z.array(z.string()),
  addresses: z.array(z.string()).openapi({ description: "Addresses in use now" }),
  service: ServiceSpec.extend({ accepted: z.number().int() }).nullable(),
  tcpConnections: z.number().int(),
  /** The stack's TCP sockets (at most 256 listed): RFC 9293 state, local and remote endpoints. */
  sockets: z.array(z.object({
    state: z.string(),
    local: z.string(),
    remote: z.string(),
  })),
  framesIn: z.number(),
  bytesIn: z.number(),
  framesOut: z.number(),
  bytesOut: z.number(),
  drops: Counts,
}).openapi("Stack");

export const CableInfo = z.object({
  switch: z.string().nullable().openapi({ description: "connect, listen: the switch" }),
  name: z.string().nullable().openapi({ description: "join: the cable's name (`weft cable`)" }),
  direction: z.enum(["connect", "listen", "join"]).openapi({
    description: "join: two endpoints back to back, no switch (`weft cable URL PEER`)",
  }),
  url: z.string(),
  peer: z.string().nullable().openapi({ description: "join: the other side's URL" }),
  port: z.number().int().nullable().openapi({ description: "connect: the port it is on" }),
  link: z.enum(["up", "down", "unplugged", "listening", "closed"]),
  framesIn: z.number().openapi({ description: "Frames received from url's side" }),
  framesOut: z.number().openapi({ description: "Frames sent to url's side" }),
  bytesIn: z.number(),
  bytesOut: z.number(),
  drops: Counts,
  reconnect: z.object({
    connects: z.number().int(),
    failures: z.number().int(),
    lastError: z.string().nullable(),
  }).nullable().openapi({ description: "connect: a re-dialling cable's state (tcp://, tls://)" }),
  accepted: z.number().int().nullable().openapi({ description: "listen: connections accepted" }),
  refused: Counts.openapi({
    description: "listen: connections turned away by reason (auth failures: badToken, noToken, …)",
  }),
}).openapi("Cable");

export const CableCreate = z.strictObject({
  switch: z.string().regex(SWITCH_NAME),
  url: z.string().min(1).max(4096),
  direction: z.enum(["connect", "listen"]).optional().openapi({ description: "Default connect" }),
}).openapi("CableCreate");

export const CableQuery = z.object({
  switch: z.string().regex(SWITCH_NAME).openapi({ param: { name: "switch", in: "query" } }),
  url: z.string().min(1).max(4096).openapi({ param: { name: "url", in: "query" } }),
  direction: z.enum(["connect", "listen"]).optional().openapi({
    param: { name: "direction", in: "query" },
  }),
});

export const ForwardSpec = z.strictObject({
  proto: z.enum(["tcp", "udp"]),
  hostAddr: z.string().max(64).openapi({ example: "127.0.0.1" }),
  hostPort: z.number().int().min(0).max(65535).openapi({ description: "0: the host picks one" }),
  guestAddr: z.string().max(64).openapi({ example: "10.0.2.15" }),
  guestPort: z.number().int().min(1).max(65535),
}).openapi("ForwardSpec");

export const ForwardInfo = ForwardSpec.extend({ id: z.string() }).openapi("Forward");

export const GatewayCreate = z.strictObject({
  name: z.string().regex(SWITCH_NAME, "expected 1-64 of A-Z a-z 0-9 _ . - starting alnum"),
  switch: z.string().regex(SWITCH_NAME).optional(),
  url: z.string().min(1).max(4096).optional(),
  cidr: z.string().max(64).openapi({ example: "10.0.2.0/24" }),
  gatewayAddr: z.string().max(64).optional(),
  ip6: z.string().max(64).optional().openapi({ example: "fd00:2::/64" }),
  dhcp: z.strictObject({
    start: z.string().max(64),
    end: z.string().max(64),
    leaseSeconds: z.number().int().min(60).max(31_536_000).optional(),
  }).optional(),
  dns: z.boolean().optional(),
  forwards: z.array(ForwardSpec).max(256).optional(),
}).openapi("GatewayCreate");

export const GatewayInfo = z.object({
  name: z.string(),
  switch: z.string().nullable(),
  url: z.string().nullable(),
  port: z.number().int().nullable(),
  cidr: z.string(),
  addresses: z.array(z.string()),
  dhcp: z.boolean(),
  dns: z.boolean(),
  forwards: z.array(ForwardInfo),
  leases: z.number().int(),
  counters: z.record(z.string(), z.unknown()),
}).openapi("Gateway");

export const Lease = z.object({
  mac: z.string(),
  addr: z.string(),
  name: z.string().optional(),
  expiresAt: z.number(),
}).openapi("Lease");

export const ForwardParam = NameParam.extend({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).openapi({ param: { name: "id", in: "path" } }),
});

export const RouterInterface = z.object({
  name: z.string(),
  switch: z.string().nullable().openapi({ description: "The switch of this node it is on" }),
  url: z.string().nullable().openapi({ description: "The endpoint URL, when not on a switch" }),
  port: z.number().int().nullable().openapi({ description: "The switch port it is plugged into" }),
  mac: z.string(),
  addresses: z.array(z.string()),
  advertising: z.boolean().openapi({ description: "Sends router advertisements (RFC 4861)" }),
  forwardedOut: z.number().int(),
  framesIn: z.number().int(),
  framesOut: z.number().int(),
  drops: Counts,
}).openapi("RouterInterface");

export const RouterRoute = z.object({
  dest: z.string(),
  via: z.string().nullable(),
  interface: z.string(),
  kind: z.enum(["connected", "static"]),
}).openapi("RouterRoute");

export const RouterInfo = z.object({
  name: z.string(),
  interfaces: z.array(RouterInterface),
  routes: z.array(RouterRoute),
  forwarded4: z.number().int(),
  forwarded6: z.number().int(),
  bytes: z.number().int(),
  fragmentsOut: z.number().int(),
  icmpErrors: Counts,
  localEcho: z.number().int(),
  drops: Counts.openapi({ description: "Packets not forwarded, by reason" }),
}).openapi("Router");

const RaSpec = z.union([
  z.boolean(),
  z.strictObject({
    interval: z.number().min(4).max(1800).optional().openapi({
      description: "MaxRtrAdvInterval, seconds (default 600)",
    }),
    lifetime: z.number().int().min(0).max(9000).optional().openapi({
      description: "AdvDefaultLifetime, seconds (default 3 × interval; 0: not a default router)",
    }),
  }),
]);

export const RouterInterfaceCreate = z.strictObject({
  name: z.string().regex(
    /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/,
    "a letter, then up to 31 of A-Z a-z 0-9 _ . -",
  ),
  switch: z.string().regex(SWITCH_NAME).optional().openapi({
    description: "Plug into this switch of the node (or give url)",
  }),
  url: z.string().min(1).max(4096).optional().openapi({ description: "Any endpoint URL" }),
  cidr: z.string().max(64).optional().openapi({ example: "10.1.0.1/24" }),
  cidr6: z.string().max(64).optional().openapi({ example: "fd01::1/64" }),
  ra: RaSpec.optional().openapi({ description: "Send router advertisements for cidr6's /64" }),
}).openapi("RouterInterfaceCreate");

export const RouterCreate = z.strictObject({
  name: z.string().regex(SWITCH_NAME, "expected 1-64 of A-Z a-z 0-9 _ . - starting alnum"),
  interfaces: z.array(RouterInterfaceCreate).min(1).max(64),
  routes: z.array(z.strictObject({
    dest: z.string().max(64).openapi({ example: "10.9.0.0/16" }),
    via: z.string().max(64).openapi({ example: "10.2.0.254" }),
  })).max(1024).optional(),
}).openapi("RouterCreate");
