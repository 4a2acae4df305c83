/**
 * `/api/v1/stacks…` (user-space TCP/IP stacks and their service) and `/api/v1/cables` (the URLs
 * the switches dial and listen on). Handlers translate between HTTP and the Node's methods; the
 * rules (names, addresses, conflicts) live in the Node and stack_resource.ts.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Node } from "../node.ts";
import {
  CableCreate,
  CableInfo,
  CableQuery,
  ErrorBody,
  NameParam,
  StackCreate,
  StackInfo,
} from "./schemas.ts";
import { cableView, stackView } from "./views.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const err = (description: string) => json(ErrorBody, description);
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});
const E400 = err("Bad input: the message names the value and what was expected");
const E404 = err("No such stack, switch or cable");
const E409 = err("Conflict: a name, port or URL in use");
const E413 = err("Body larger than 64 KiB");

export function stackRoutes(app: OpenAPIHono, node: Node): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/stacks",
      tags: ["stacks"],
      responses: { 200: json(z.array(StackInfo), "All stacks") },
    }),
    (c) => c.json(node.listStacks().map(stackView), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/stacks",
      tags: ["stacks"],
      description: "Start a stack on a switch of this node (switch) or any endpoint (url), " +
        "optionally running a service (echo, dir, proxy).",
      request: body(StackCreate),
      responses: {
        201: json(StackInfo, "Started"),
        400: E400,
        404: E404,
        409: E409,
        413: E413,
      },
    }),
    async (c) => c.json(stackView(await node.createStack(c.req.valid("json"))), 201),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/stacks/{name}",
      tags: ["stacks"],
      request: { params: NameParam },
      responses: { 200: json(StackInfo, "The stack"), 400: E400, 404: E404 },
    }),
    (c) => c.json(stackView(node.getStack(c.req.valid("param").name)), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/stacks/{name}",
      tags: ["stacks"],
      description: "Stop the service, release a DHCP lease, unplug the stack.",
      request: { params: NameParam },
      responses: { 204: { description: "Deleted" }, 400: E400, 404: E404 },
    }),
    async (c) => {
      await node.deleteStack(c.req.valid("param").name);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/cables",
      tags: ["cables"],
      responses: { 200: json(z.array(CableInfo), "Cables dialled and listened on, by switch") },
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
      request: body(CableCreate),
      responses: {
        201: json(CableInfo, "Connected or listening"),
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
