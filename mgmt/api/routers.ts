/**
 * `/api/v1/routers…`: the routers a node runs — interfaces with their addresses, the routing
 * table, forwarding counters and drops by reason. A router is created from a spec (interfaces on
 * switches of the node or endpoint URLs, static routes) and deleted; its interfaces and routes are
 * fixed while it runs (router/router.ts), so a change is a delete and a create (`weft apply` plans
 * it that way).
 */

import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { ManagedRouter, Node } from "../node.ts";
import { itemRoutes, listRoute, type NamedResource } from "./named_resource_routes.ts";
import { NameParam, RouterCreate, RouterInfo } from "./schemas.ts";
import { E400, E413, errorResponse, jsonBody, jsonResponse } from "./route_parts.ts";
import { routerView } from "./views.ts";

const E404 = errorResponse("No such router or switch");
const E409 = errorResponse("Conflict: a name in use");

export function routerRoutes(app: OpenAPIHono, node: Node): void {
  const resource: NamedResource<ManagedRouter> = {
    path: "/api/v1/routers",
    tag: "routers",
    nameParam: NameParam,
    info: RouterInfo,
    view: routerView,
    list: () => node.listRouters(),
    get: (name) => node.getRouter(name),
    remove: (name) => node.deleteRouter(name),
    listDescription: "All routers",
    itemDescription: "The router",
    deleteDescription: "Stop the router; its interfaces leave their switches.",
    E404,
  };
  listRoute(app, resource);
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/routers",
      tags: ["routers"],
      description: "Start a router between switches of this node and/or endpoint URLs.",
      request: jsonBody(RouterCreate),
      responses: {
        201: jsonResponse(RouterInfo, "Started"),
        400: E400,
        404: E404,
        409: E409,
        413: E413,
      },
    }),
    async (c) => c.json(routerView(await node.createRouter(c.req.valid("json"))), 201),
  );
  itemRoutes(app, resource);
}
