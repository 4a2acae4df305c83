/**
 * The routes every named resource of the API has alike — list the collection, get one by
 * `{name}`, delete one by `{name}` — so switches, stacks and gateways declare only what differs:
 * their schema, their view and the Node methods behind them. The Node's domain errors (unknown
 * name → 404, …) become 4xx answers in app.ts.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { NameParam, SwitchNameParam } from "./schemas.ts";
import { E400, jsonResponse } from "./route_parts.ts";

export interface NamedResource<Item> {
  /** The collection's path, e.g. `/api/v1/stacks`; one item is at `${path}/{name}`. */
  path: string;
  tag: string;
  /** The `{name}` path parameter's schema (switch names and other names differ in examples). */
  nameParam: typeof NameParam | typeof SwitchNameParam;
  /** The JSON schema of one item as the view returns it. */
  info: z.ZodType;
  view: (item: Item) => unknown;
  list: () => Item[];
  get: (name: string) => Item;
  remove: (name: string) => unknown;
  /** Response descriptions: the list's ("All stacks") and one item's ("The stack"). */
  listDescription: string;
  itemDescription: string;
  /** Said of the DELETE route in the OpenAPI document, when there is more to say than "Deleted". */
  deleteDescription?: string;
  E404: ReturnType<typeof jsonResponse>;
}

/** GET `${path}`: all items, as views. */
export function listRoute<Item>(app: OpenAPIHono, r: NamedResource<Item>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: r.path,
      tags: [r.tag],
      responses: { 200: jsonResponse(z.array(r.info), r.listDescription) },
    }),
    (c) => c.json(r.list().map(r.view), 200),
  );
}

/** GET and DELETE `${path}/{name}`: one item's view, or its removal (awaited, then 204). */
export function itemRoutes<Item>(app: OpenAPIHono, r: NamedResource<Item>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: `${r.path}/{name}`,
      tags: [r.tag],
      request: { params: r.nameParam },
      responses: { 200: jsonResponse(r.info, r.itemDescription), 400: E400, 404: r.E404 },
    }),
    (c) => c.json(r.view(r.get(c.req.valid("param").name)), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: `${r.path}/{name}`,
      tags: [r.tag],
      ...(r.deleteDescription === undefined ? {} : { description: r.deleteDescription }),
      request: { params: r.nameParam },
      responses: { 204: { description: "Deleted" }, 400: E400, 404: r.E404 },
    }),
    async (c) => {
      await r.remove(c.req.valid("param").name);
      return c.body(null, 204);
    },
  );
}
