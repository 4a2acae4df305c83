/**
 * The management API as a Hono app: `createApp(node, { token })`. It holds no state of its own —
 * every route reads or changes the Node — so tests drive it in-process with `app.request()` and
 * the CLI serves the very same app on a socket (api_server.ts).
 *
 * - `/health` answers without a token (for liveness probes); every other route, `/metrics` and
 *   `/openapi.json` included, needs `Authorization: Bearer TOKEN`. Metrics reveal the topology
 *   and traffic of the node, and Prometheus scrapes with `authorization: credentials_file`
 *   as easily as without.
 * - Request bodies are capped at 64 KiB (413) before they are parsed; nothing the API takes
 *   needs more.
 * - Errors are `{ "error": "…" }`: 400 bad input (schema or domain), 401, 404 unknown switch,
 *   port or route, 409 conflicts, 413, 415 a body that is not JSON; 500 only for bugs, whose
 *   details go to the log, not to the client.
 */

import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { ConfigError, ConflictError, NotFoundError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { bearerMatcher } from "./auth.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import type { Node } from "./node.ts";
import { ErrorBody, NodeInfo } from "./api/schemas.ts";
import { switchRoutes } from "./api/switches.ts";
import { eventRoutes } from "./api/events.ts";
import { stackRoutes } from "./api/stacks.ts";
import { gatewayRoutes } from "./api/gateways.ts";
import { routerRoutes } from "./api/routers.ts";
import { exportTopology } from "./topology.ts";
import { nodeView } from "./api/views.ts";
import { dashboardRoutes } from "./dashboard/routes.ts";

export const MAX_BODY_BYTES = 64 * 1024;

export interface AppOptions {
  /** The bearer token every route but /health requires. */
  token: string;
  /** Where 500s are reported (their details never go to the client). */
  logger?: Logger;
}

export function createApp(node: Node, opts: AppOptions): OpenAPIHono {
  if (opts.token.length < 16) throw new ConfigError("The API token must be at least 16 characters");
  const logger = opts.logger ?? node.logger;
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        return c.json({ error: describeIssues(result.target, result.error) }, 400);
      }
    },
  });

  app.onError((e, c) => errorResponse(e, c, logger));
  app.notFound((c) => c.json({ error: `No route ${c.req.method} ${c.req.path}` }, 404));

  dashboardRoutes(app); // public static page, so before the token check; its data needs the token
  const authorized = bearerMatcher(opts.token);
  app.use("*", async (c, next) => {
    node.apiRequests++;
    if (c.req.path === "/health") return await next();
    if (!authorized(c.req.header("authorization"))) {
      c.header("WWW-Authenticate", 'Bearer realm="weft"');
      return c.json({ error: "Missing or wrong bearer token (Authorization: Bearer TOKEN)" }, 401);
    }
    await next();
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json({ error: `Request body larger than ${MAX_BODY_BYTES} bytes` }, 413),
    }),
  );

  app.get("/health", (c) => c.json({ status: "ok" }));

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/node",
      tags: ["node"],
      responses: {
        200: { content: { "application/json": { schema: NodeInfo } }, description: "This node" },
        401: { content: { "application/json": { schema: ErrorBody } }, description: "No token" },
      },
    }),
    (c) => c.json(nodeView(node), 200),
  );

  switchRoutes(app, node);
  stackRoutes(app, node);
  gatewayRoutes(app, node);
  routerRoutes(app, node);
  eventRoutes(app, node);
  // The live topology as a file `weft up` accepts (`weft export` prints it).
  app.get(
    "/api/v1/topology",
    (c) => c.body(exportTopology(node), 200, { "content-type": "application/yaml" }),
  );

  app.get("/metrics", (c) =>
    c.body(renderMetrics(node), 200, {
      "content-type": METRICS_CONTENT_TYPE,
    }));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  app.doc("/openapi.json", {
    openapi: "3.0.3",
    info: {
      title: "weft management API",
      version: node.version,
      description: "Every route but /health needs Authorization: Bearer TOKEN " +
        "(the token is in api.token in the node's state directory).",
    },
    security: [{ bearer: [] }],
  });
  return app;
}

/** One line naming each bad field and what was expected. */
function describeIssues(target: string, error: ZodError): string {
  const where = target === "json" ? "body" : target === "param" ? "path" : target;
  const issues = error.issues.map((i) => {
    const path = i.path.map(String).join(".");
    return path ? `${path}: ${i.message}` : i.message;
  });
  return `Invalid request ${where}: ${issues.join("; ")}`;
}

function errorResponse(e: unknown, c: Context, logger: Logger): Response {
  if (e instanceof HTTPException) {
    const status = e.status;
    const msg = status === 400 && /JSON/i.test(e.message)
      ? "Invalid request body: not valid JSON"
      : status === 415
      ? "Unsupported media type: send the body as application/json"
      : e.message || "Bad request";
    return c.json({ error: msg }, status);
  }
  if (e instanceof ConfigError) return c.json({ error: e.message }, 400);
  if (e instanceof NotFoundError) return c.json({ error: e.message }, 404);
  if (e instanceof ConflictError) return c.json({ error: e.message }, 409);
  // A path given to the API that the node may not use (a sock directory) is the caller's input.
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotFound) {
    return c.json({ error: e.message }, 400);
  }
  logger.log("error", "api handler failed", {
    route: `${c.req.method} ${c.req.path}`,
    error: e instanceof Error ? e.stack ?? e.message : String(e),
  });
  return c.json({ error: "Internal error (logged on the node)" }, 500);
}
