/**
 * `GET /events`: the node's events as Server-Sent Events (port up/down, link up/down, MAC learned
 * and moved, switch created/deleted, …), one SSE message per event: `event: TYPE`, `data: JSON`.
 *
 * Each client has a bounded queue (256 events): a client that does not keep up loses events, which
 * are counted and announced to it as one `dropped` event with the count, rather than making the
 * node buffer without bound or slowing the frame path (events are emitted synchronously from it).
 * A comment line every 15 s keeps idle connections through proxies.
 */

import type { OpenAPIHono } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { WeftEvent } from "../../core/events.ts";
import type { Node } from "../node.ts";

const QUEUE_LIMIT = 256;
const KEEPALIVE_MS = 15_000;

export function eventRoutes(app: OpenAPIHono, node: Node): void {
  app.get("/events", (c) =>
    streamSSE(c, async (stream) => {
      const queue: WeftEvent[] = [];
      let dropped = 0;
      let wake: (() => void) | undefined;
      const off = node.events.on((e) => {
        if (queue.length >= QUEUE_LIMIT) dropped++;
        else queue.push(e);
        wake?.();
      });
      let open = true;
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      try {
        await stream.writeSSE({ event: "hello", data: JSON.stringify({ node: node.id }) });
        while (open) {
          if (queue.length === 0 && dropped === 0) {
            let timer: ReturnType<typeof setTimeout> | undefined;
            const woke = await new Promise<boolean>((resolve) => {
              wake = () => resolve(true);
              timer = setTimeout(() => resolve(false), KEEPALIVE_MS);
            });
            clearTimeout(timer);
            wake = undefined;
            if (!woke && open) await stream.write(": keepalive\n\n");
            continue;
          }
          if (dropped > 0) {
            await stream.writeSSE({ event: "dropped", data: JSON.stringify({ count: dropped }) });
            dropped = 0;
          }
          const e = queue.shift();
          if (e) await stream.writeSSE({ event: e.type, data: JSON.stringify(e) });
        }
      } finally {
        off();
      }
    }));
}
