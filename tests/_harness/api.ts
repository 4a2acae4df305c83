/**
 * A node with one switch and three hosts on pair cables, its management app, and helpers to call
 * the app in-process and to assert that a refused request changed nothing.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { createPair, type PairEnd } from "../../cable/pair.ts";
import { ManualClock } from "../../core/clock.ts";
import { MemoryLogger } from "../../core/log.ts";
import { createApp } from "../../mgmt/app.ts";
import { fdbView, portView, switchView } from "../../mgmt/api/views.ts";
import { Node } from "../../mgmt/node.ts";
import { BROADCAST, collector, frame, mac } from "./frames.ts";

export const TOKEN = "test-token-0123456789abcdef";

export interface CallOptions {
  /** Sent as JSON with `content-type: application/json`. */
  json?: unknown;
  /** A raw body (with whatever headers are given). */
  body?: string | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
  /** The bearer token; null sends no Authorization header. */
  token?: string | null;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  // deno-lint-ignore no-explicit-any
  body: any;
}

export async function apiFixture() {
  const clock = new ManualClock(1_000_000);
  const logger = new MemoryLogger();
  const node = new Node({ id: "node-test", version: "9.9.9", clock, logger });
  const app = createApp(node, { token: TOKEN, logger });
  const m = await node.createSwitch({ name: "sw0", ports: 8 });
  const hosts: { end: PairEnd; rx: Uint8Array[] }[] = [];
  for (let i = 1; i <= 3; i++) {
    const [a, b] = createPair(`h${i}`);
    const c = collector();
    b.setSink(c.sink);
    m.switch.attach(a);
    hosts.push({ end: b, rx: c.frames });
  }
  // h1 broadcasts, h2 answers: the MAC table learns 02:00:00:00:00:01@1 and …:02@2.
  hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1) }));
  hosts[1].end.send(frame({ dst: mac(1), src: mac(2) }));

  async function call(method: string, path: string, opts: CallOptions = {}): Promise<CallResult> {
    const headers = new Headers(opts.headers);
    if (opts.token !== null) headers.set("authorization", `Bearer ${opts.token ?? TOKEN}`);
    let body = opts.body;
    if (opts.json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(opts.json);
    }
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }

  /** Everything the API can change, as one comparable string. */
  function snapshot(): string {
    return JSON.stringify(
      node.list().map((m) => ({
        sw: switchView(m),
        ports: m.switch.ports().map(portView),
        fdb: fdbView(m, clock.now()),
      })),
    );
  }

  /** Call, expect `status` with an `{ error }` body (matching `re`), and no change of state. */
  async function refused(
    status: number,
    method: string,
    path: string,
    opts: CallOptions = {},
    re?: RegExp,
  ): Promise<CallResult> {
    const before = snapshot();
    const r = await call(method, path, opts);
    assertEquals(r.status, status, `${method} ${path} ${JSON.stringify(opts)}: ${r.text}`);
    assert(typeof r.body?.error === "string", `an { error } body: ${r.text}`);
    assertMatch(r.headers.get("content-type") ?? "", /^application\/json/);
    if (re) assertMatch(r.body.error, re);
    assertEquals(snapshot(), before, `${method} ${path}: state unchanged after ${status}`);
    return r;
  }

  return { node, app, clock, logger, hosts, call, snapshot, refused };
}
