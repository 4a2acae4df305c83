/**
 * HTTP/1.1 over any byte-stream connection: `serve` (a fetch-style handler, e.g. a Hono app)
 * and `fetchVia` (a client over a dial function). Both work over the stack's sockets and Deno's.
 */

export type { ConnLike } from "./conn_like.ts";
export { type Handler, type HttpServer, serve, type ServeOptions } from "./serve.ts";
export { type Dial, fetchVia } from "./fetch.ts";
export { HttpError, HttpReader, type MessageHead } from "./parser.ts";
