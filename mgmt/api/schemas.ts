/**
 * The API's shapes, declared once with zod: the same schemas validate request bodies and
 * parameters and produce `/openapi.json`, so the document cannot drift from the checks. JSON
 * fields are camelCase everywhere; request objects are strict, so a misspelt field is a 400
 * naming it rather than a silently ignored change.
 */

import { z } from "@hono/zod-openapi";
import { LIMITS, SWITCH_NAME } from "../node.ts";

export const ErrorBody = z.object({ error: z.string() }).openapi("Error");

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
}).openapi("SwitchCreate");

export const SwitchPatch = z.strictObject({
  hub: z.boolean().optional(),
  mtu: int(LIMITS.mtu, "Applied live, to existing ports too").optional(),
  ageingSec: int(LIMITS.ageingSec, "Applied live").optional(),
  macLimit: int(LIMITS.macLimit, "Fixed at creation: only the current value is accepted")
    .optional(),
  maxPorts: int(LIMITS.ports, "Fixed at creation: only the current value is accepted").optional(),
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
