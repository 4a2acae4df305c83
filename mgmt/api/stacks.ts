/**
 * `/api/v1/stacks…` (user-space TCP/IP stacks and their service) and `/api/v1/cables` (the URLs
 * the switches dial and listen on). Handlers translate between HTTP and the Node's methods; the
 * rules (names, addresses, conflicts) live in the Node and stack_resource.ts.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ManagedStack, Node } from "../node.ts";
import { itemRoutes, listRoute, type NamedResource } from "./named_resource_routes.ts";
import {
  CableCreate,
  CableInfo,
  CableQuery,
  NameParam,
  StackCreate,
  StackInfo,
} from "./schemas.ts";
import { E400, E413, errorResponse, jsonBody, jsonResponse } from "./route_parts.ts";
import { cableView, stackView } from "./views.ts";

const E404 = errorResponse("No such stack, switch or cable");
const E409 = errorResponse("Conflict: a name, port or URL in use");

export function stackRoutes(app: OpenAPIHono, node: Node): void {
  const resource: NamedResource<ManagedStack> = {
    path: "/api/v1/stacks",
    tag: "stacks",
    nameParam: NameParam,
    info: StackInfo,
    view: stackView,
    list: () => node.listStacks(),
    get: (name) => node.getStack(name),
    remove: (name) => node.deleteStack(name),
    listDescription: "All stacks",
    itemDescription: "The stack",
    deleteDescription: "Stop the service, release a DHCP lease, unplug the stack.",
    E404,
  };
  listRoute(app, resource);

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/stacks",
      tags: ["stacks"],
      description: "Start a stack on a switch of this node (switch) or any endpoint (url), " +
        "optionally running a service (echo, dir, proxy).",
      request: jsonBody(StackCreate),
      responses: {
        201: jsonResponse(StackInfo, "Started"),
        400: E400,
        404: E404,
        409: E409,
        413: E413,
      },
    }),
    async (c) => c.json(stackView(await node.createStack(c.req.valid("json"))), 201),
  );

  itemRoutes(app, resource);

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/cables",
      tags: ["cables"],
      responses: {
        200: jsonResponse(z.array(CableInfo), "Cables dialled and listened on, by switch"),
      },
    }),
    (c) => c.json(node.cables().map(cableView), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/cables",
      tags: ["cables"],
      description: "Dial a URL and plug the cable into the switch (connect, the default), or " +
        "accept cables on a listen URL, each as a new port.",
      request: jsonBody(CableCreate),
      responses: {
        201: jsonResponse(CableInfo, "Connected or listening"),
        400: E400,
        404: E404,
        409: E409,
        413: E413,
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const direction = b.direction ?? "connect";
      if (direction === "listen") await node.listen(b.switch, b.url);
      else await node.connect(b.switch, b.url);
      const made = node.cables().find((x) =>
        x.switch === b.switch && x.url === b.url && x.direction === direction
      )!;
      return c.json(cableView(made), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/cables",
      tags: ["cables"],
      description: "Unplug a dialled cable or stop a listener (cables it accepted stay).",
      request: { query: CableQuery },
      responses: { 204: { description: "Dropped" }, 400: E400, 404: E404 },
    }),
    (c) => {
      const q = c.req.valid("query");
      node.deleteCable(q.switch, q.url, q.direction);
      return c.body(null, 204);
    },
  );
}
