/**
 * The OpenAPI pieces every `/api/v1/…` route module declares alike: a JSON response, the error
 * body (app.ts maps the Node's domain errors to it), a required JSON request body, and the 400 and
 * 413 answers that mean the same on every route. The 404 and 409 texts name each module's own
 * resources, so the modules build those with errorResponse.
 */

import type { z } from "@hono/zod-openapi";
import { ErrorBody } from "./schemas.ts";

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const errorResponse = (description: string) => jsonResponse(ErrorBody, description);

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  // required: a body with another content type is refused instead of skipping validation.
  body: { content: { "application/json": { schema } }, required: true },
});

export const E400 = errorResponse("Bad input: the message names the value and what was expected");
export const E413 = errorResponse("Body larger than 64 KiB");
