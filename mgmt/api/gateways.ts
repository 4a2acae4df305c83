/**
 * `/api/v1/gateways…`: slirp-like gateways (router/gateway/gateway.ts) — NAT to the host's
 * sockets, DHCP, DNS — and their port forwards, added and removed at runtime, and DHCP leases.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ManagedGateway, Node } from "../node.ts";
import { itemRoutes, listRoute, type NamedResource } from "./named_resource_routes.ts";
import {
  ForwardInfo,
  ForwardParam,
  ForwardSpec,
  GatewayCreate,
  GatewayInfo,
  Lease,
  NameParam,
} from "./schemas.ts";
import { E400, E413, errorResponse, jsonBody, jsonResponse } from "./route_parts.ts";
import { gatewayView } from "./views.ts";

const E404 = errorResponse("No such gateway, switch or forward");
const E409 = errorResponse("Conflict: a name or host port in use");

export function gatewayRoutes(app: OpenAPIHono, node: Node): void {
  const resource: NamedResource<ManagedGateway> = {
    path: "/api/v1/gateways",
    tag: "gateways",
    nameParam: NameParam,
    info: GatewayInfo,
    view: gatewayView,
    list: () => node.listGateways(),
    get: (name) => node.getGateway(name),
    remove: (name) => node.deleteGateway(name),
    listDescription: "All gateways",
    itemDescription: "The gateway",
    E404,
  };
  listRoute(app, resource);

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/gateways",
      tags: ["gateways"],
      request: jsonBody(GatewayCreate),
      responses: {
        201: jsonResponse(GatewayInfo, "Started"),
        400: E400,
        404: E404,
        409: E409,
        413: E413,
      },
    }),
    async (c) => c.json(gatewayView(await node.createGateway(c.req.valid("json"))), 201),
  );

  itemRoutes(app, resource);

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/gateways/{name}/forwards",
      tags: ["gateways"],
      request: { params: NameParam },
      responses: { 200: jsonResponse(z.array(ForwardInfo), "Port forwards"), 400: E400, 404: E404 },
    }),
    (c) => c.json(node.getGateway(c.req.valid("param").name).gateway.forwards(), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/gateways/{name}/forwards",
      tags: ["gateways"],
      description: "Listen on a host port and relay into the LAN, at once.",
      request: { params: NameParam, ...jsonBody(ForwardSpec) },
      responses: {
        201: jsonResponse(ForwardInfo, "Forwarding"),
        400: E400,
        404: E404,
        409: E409,
        413: E413,
      },
    }),
    async (c) => {
      const gw = node.getGateway(c.req.valid("param").name).gateway;
      const id = await gw.addForward(c.req.valid("json"));
      return c.json(gw.forwards().find((f) => f.id === id)!, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/gateways/{name}/forwards/{id}",
      tags: ["gateways"],
      request: { params: ForwardParam },
      responses: { 204: { description: "Removed" }, 400: E400, 404: E404 },
    }),
    (c) => {
      const { name, id } = c.req.valid("param");
      node.getGateway(name).gateway.removeForward(id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/gateways/{name}/leases",
      tags: ["gateways"],
      request: { params: NameParam },
      responses: {
        200: jsonResponse(z.array(Lease), "DHCP leases in force"),
        400: E400,
        404: E404,
      },
    }),
    (c) => c.json(node.getGateway(c.req.valid("param").name).gateway.leases(), 200),
  );
}
