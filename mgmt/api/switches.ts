/**
 * `/api/v1/switches…`: switches, their ports and their MAC tables. Handlers only translate
 * between HTTP and the Node's methods; the rules (ranges, what changes live, conflicts) live in
 * the Node, and its domain errors become 4xx answers in app.ts.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ManagedSwitch, Node } from "../node.ts";
import { itemRoutes, listRoute, type NamedResource } from "./named_resource_routes.ts";
import {
  FdbEntry,
  FdbQuery,
  Flushed,
  PortInfo,
  PortParam,
  PortPatch,
  SwitchCreate,
  SwitchInfo,
  SwitchNameParam,
  SwitchPatch,
} from "./schemas.ts";
import { E400, E413, errorResponse, jsonBody, jsonResponse } from "./route_parts.ts";
import { fdbView, portView, switchView } from "./views.ts";
import { parseVlanMode, type VlanMode } from "../../switch/vlan.ts";

/** `{ "3": "access:10" }` → port/mode pairs; a bad mode is a ConfigError (400) naming it. */
function vlansOf(map: Record<string, string> | undefined): [number, VlanMode][] {
  return Object.entries(map ?? {}).map(([port, mode]) => [Number(port), parseVlanMode(mode)]);
}

const E404 = errorResponse("No such switch or port");
const E409 = errorResponse("Conflict: a name in use, or a change a running switch cannot take");

export function switchRoutes(app: OpenAPIHono, node: Node): void {
  const resource: NamedResource<ManagedSwitch> = {
    path: "/api/v1/switches",
    tag: "switches",
    nameParam: SwitchNameParam,
    info: SwitchInfo,
    view: switchView,
    list: () => node.list(),
    get: (name) => node.get(name),
    remove: (name) => node.deleteSwitch(name),
    listDescription: "All switches",
    itemDescription: "The switch",
    E404,
  };
  listRoute(app, resource);

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/switches",
      tags: ["switches"],
      request: jsonBody(SwitchCreate),
      responses: { 201: jsonResponse(SwitchInfo, "Created"), 400: E400, 409: E409, 413: E413 },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const m = await node.createSwitch({
        name: b.name,
        ports: b.maxPorts,
        hub: b.hub,
        mtu: b.mtu,
        macLimit: b.macLimit,
        ageingSec: b.ageingSec,
        portVlans: vlansOf(b.vlans),
      }, b.sock);
      return c.json(switchView(m), 201);
    },
  );

  itemRoutes(app, resource);

  app.openapi(
    createRoute({
      method: "patch",
      path: "/api/v1/switches/{name}",
      tags: ["switches"],
      description: "hub, mtu and ageingSec change live; macLimit and maxPorts are fixed (409).",
      request: { params: SwitchNameParam, ...jsonBody(SwitchPatch) },
      responses: {
        200: jsonResponse(SwitchInfo, "Changed"),
        400: E400,
        404: E404,
        409: E409,
        413: E413,
      },
    }),
    (c) => {
      const { name } = c.req.valid("param");
      const b = c.req.valid("json");
      node.configureSwitch(name, {
        hub: b.hub,
        mtu: b.mtu,
        ageingSec: b.ageingSec,
        macLimit: b.macLimit,
        ports: b.maxPorts,
        vlans: b.vlans === undefined ? undefined : vlansOf(b.vlans),
      });
      return c.json(switchView(node.get(name)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/switches/{name}/ports",
      tags: ["ports"],
      request: { params: SwitchNameParam },
      responses: { 200: jsonResponse(z.array(PortInfo), "Ports in use"), 400: E400, 404: E404 },
    }),
    (c) => c.json(node.get(c.req.valid("param").name).switch.ports().map(portView), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/switches/{name}/ports/{n}",
      tags: ["ports"],
      request: { params: PortParam },
      responses: { 200: jsonResponse(PortInfo, "The port"), 400: E400, 404: E404 },
    }),
    (c) => {
      const { name, n } = c.req.valid("param");
      return c.json(portView(node.port(name, Number(n))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/api/v1/switches/{name}/ports/{n}",
      tags: ["ports"],
      request: { params: PortParam, ...jsonBody(PortPatch) },
      responses: { 200: jsonResponse(PortInfo, "Changed"), 400: E400, 404: E404, 413: E413 },
    }),
    (c) => {
      const { name, n } = c.req.valid("param");
      return c.json(portView(node.configurePort(name, Number(n), c.req.valid("json"))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/switches/{name}/ports/{n}",
      tags: ["ports"],
      description: "Unplug the port: its endpoint is closed.",
      request: { params: PortParam },
      responses: { 204: { description: "Unplugged" }, 400: E400, 404: E404 },
    }),
    (c) => {
      const { name, n } = c.req.valid("param");
      node.detachPort(name, Number(n));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/switches/{name}/fdb",
      tags: ["fdb"],
      request: { params: SwitchNameParam, query: FdbQuery },
      responses: {
        200: jsonResponse(z.array(FdbEntry), "Live MAC table entries"),
        400: E400,
        404: E404,
      },
    }),
    (c) => {
      const { name } = c.req.valid("param");
      const { port } = c.req.valid("query");
      const m = node.get(name);
      return c.json(fdbView(m, node.clock.now(), port ? Number(port) : undefined), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/switches/{name}/fdb",
      tags: ["fdb"],
      description: "Flush learned MACs: all, or one port's with ?port=N.",
      request: { params: SwitchNameParam, query: FdbQuery },
      responses: { 200: jsonResponse(Flushed, "Flushed"), 400: E400, 404: E404 },
    }),
    (c) => {
      const { name } = c.req.valid("param");
      const { port } = c.req.valid("query");
      return c.json({ removed: node.flushFdb(name, port ? Number(port) : undefined) }, 200);
    },
  );
}
