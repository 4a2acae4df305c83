/**
 * `/api/v1/routers…`: the routers a node runs (`weft router`), read-only — interfaces with their
 * addresses, the routing table, forwarding counters and drops by reason. A router's interfaces
 * and routes are fixed when it starts (router/router.ts), so there is nothing to change live.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Node } from "../node.ts";
import { NameParam, RouterInfo } from "./schemas.ts";
import { E400, errorResponse, jsonResponse } from "./route_parts.ts";
import { routerView } from "./views.ts";

const E404 = errorResponse("No such router");

export function routerRoutes(app: OpenAPIHono, node: Node): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/routers",
      tags: ["routers"],
      responses: { 200: jsonResponse(z.array(RouterInfo), "All routers") },
    }),
    (c) => c.json(node.listRouters().map(routerView), 200),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/routers/{name}",
      tags: ["routers"],
      request: { params: NameParam },
      responses: { 200: jsonResponse(RouterInfo, "The router"), 400: E400, 404: E404 },
    }),
    (c) => c.json(routerView(node.getRouter(c.req.valid("param").name)), 200),
  );
}
