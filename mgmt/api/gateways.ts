/**
 * `/api/v1/gateways…`: slirp-like gateways (router/gateway/gateway.ts) — NAT to the host's
 * sockets, DHCP, DNS — and their port forwards, added and removed at runtime, and DHCP leases.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Node } from "../node.ts";
import {
  ErrorBody,
  ForwardInfo,
  ForwardParam,
  ForwardSpec,
  GatewayCreate,
  GatewayInfo,
  Lease,
  NameParam,
} from "./schemas.ts";
import { gatewayView } from "./views.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const err = (description: string) => json(ErrorBody, description);
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});
const E400 = err("Bad input: the message names the value and what was expected");
const E404 = err("No such gateway, switch or forward");
const E409 = err("Conflict: a name or host port in use");
const E413 = err("Body larger than 64 KiB");

export function gatewayRoutes(app: OpenAPIHono, node: Node): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/gateways",
      tags: ["gateways"],
      responses: { 200: json(z.array(GatewayInfo), "All gateways") },
    }),
    (c) => c.json(node.listGateways().map(gatewayView), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/gateways",
      tags: ["gateways"],
      request: body(GatewayCreate),
      responses: {
        201: json(GatewayInfo, "Started"),
        400: E400,
        404: E404,
        409: E409,
        413: E413,
      },
    }),
    async (c) => c.json(gatewayView(await node.createGateway(c.req.valid("json"))), 201),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/gateways/{name}",
      tags: ["gateways"],
      request: { params: NameParam },
      responses: { 200: json(GatewayInfo, "The gateway"), 400: E400, 404: E404 },
    }),
    (c) => c.json(gatewayView(node.getGateway(c.req.valid("param").name)), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/gateways/{name}",
      tags: ["gateways"],
      request: { params: NameParam },
      responses: { 204: { description: "Deleted" }, 400: E400, 404: E404 },
    }),
    async (c) => {
      await node.deleteGateway(c.req.valid("param").name);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/gateways/{name}/forwards",
      tags: ["gateways"],
      request: { params: NameParam },
      responses: { 200: json(z.array(ForwardInfo), "Port forwards"), 400: E400, 404: E404 },
    }),
    (c) => c.json(node.getGateway(c.req.valid("param").name).gateway.forwards(), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/gateways/{name}/forwards",
      tags: ["gateways"],
      description: "Listen on a host port and relay into the LAN, at once.",
      request: { params: NameParam, ...body(ForwardSpec) },
      responses: {
        201: json(ForwardInfo, "Forwarding"),
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
      responses: { 200: json(z.array(Lease), "DHCP leases in force"), 400: E400, 404: E404 },
    }),
    (c) => c.json(node.getGateway(c.req.valid("param").name).gateway.leases(), 200),
  );
}
