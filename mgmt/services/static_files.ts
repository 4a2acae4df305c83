/**
 * A fetch handler serving the files under a directory (`weft serve --dir`). Paths are resolved
 * inside the root only (".." and symlinks out of the root give 404); responses carry
 * Content-Length and a type from hono's MIME table, and stream the file without buffering it.
 */

import { getMimeType } from "hono/utils/mime";
import { join, normalize, resolve, sep } from "node:path";

export function staticFiles(root: string): (req: Request) => Promise<Response> {
  const base = resolve(root);
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url).pathname);
    } catch {
      return new Response("bad path\n", { status: 400 });
    }
    let file = normalize(join(base, path));
    if (file !== base && !file.startsWith(base + sep)) return notFound();
    try {
      let info = await Deno.stat(file);
      if (info.isDirectory) {
        file = join(file, "index.html");
        info = await Deno.stat(file);
      }
      const real = await Deno.realPath(file);
      if (!real.startsWith(base + sep) && real !== base) return notFound();
      const headers = {
        "content-length": String(info.size),
        "content-type": getMimeType(file) ?? "application/octet-stream",
      };
      if (req.method === "HEAD") return new Response(null, { headers });
      const f = await Deno.open(real);
      return new Response(f.readable, { headers });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        return notFound();
      }
      if (e instanceof Deno.errors.PermissionDenied) {
        return new Response("forbidden\n", { status: 403 });
      }
      throw e;
    }
  };
}

function notFound(): Response {
  return new Response("not found\n", { status: 404 });
}
