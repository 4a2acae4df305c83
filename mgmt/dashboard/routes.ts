/**
 * The dashboard, served by the node itself (issue 7 §8): `GET /` redirects to `GET /dashboard`
 * (the HTML shell), which loads `/dashboard/app.js` and `/dashboard/style.css`. All three are
 * static, hold no node data and are served WITHOUT the token — a browser navigating to a page
 * cannot send an Authorization header — so `dashboardRoutes` must be registered before the auth
 * middleware. Every byte of data the page shows comes from the token-protected API, which the
 * script calls with the token the user gives it (client.ts).
 *
 * Headers: a strict Content-Security-Policy (only this origin's script and style, fetch only to
 * this origin, no frames, no forms posting elsewhere) so that even a port description crafted
 * to look like markup cannot run code; `no-referrer`; `nosniff`; and `no-cache` (revalidate), so
 * a node upgraded in place serves its new script. ETags make the revalidation a 304.
 */

import type { Hono } from "hono";
import { DASHBOARD_JS } from "./client.ts";
import { DASHBOARD_HTML } from "./page.ts";
import { DASHBOARD_CSS } from "./style.ts";

export const DASHBOARD_PATH = "/dashboard";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: string;
  type: string;
  etag: string;
}

async function asset(body: string, type: string): Promise<Asset> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  const hex = Array.from(
    new Uint8Array(digest).subarray(0, 12),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  return { body, type, etag: `"${hex}"` };
}

const ASSETS: Promise<Record<string, Asset>> = (async () => ({
  [DASHBOARD_PATH]: await asset(DASHBOARD_HTML, "text/html; charset=utf-8"),
  [`${DASHBOARD_PATH}/app.js`]: await asset(DASHBOARD_JS, "text/javascript; charset=utf-8"),
  [`${DASHBOARD_PATH}/style.css`]: await asset(DASHBOARD_CSS, "text/css; charset=utf-8"),
}))();

/** Register the dashboard's public routes on `app` (before the token middleware). */
// deno-lint-ignore no-explicit-any
export function dashboardRoutes(app: Hono<any, any, any>): void {
  app.get("/", (c) => c.redirect(DASHBOARD_PATH, 302));
  for (const path of [DASHBOARD_PATH, `${DASHBOARD_PATH}/app.js`, `${DASHBOARD_PATH}/style.css`]) {
    app.get(path, async (c) => {
      const a = (await ASSETS)[path];
      const headers: Record<string, string> = {
        "content-type": a.type,
        "cache-control": "no-cache",
        etag: a.etag,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      };
      if (path === DASHBOARD_PATH) headers["content-security-policy"] = CSP;
      if (c.req.header("if-none-match") === a.etag) return c.body(null, 304, headers);
      return c.body(a.body, 200, headers);
    });
  }
}
