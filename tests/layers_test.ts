/**
 * Keeps the import graph one-way (ARCHITECTURE §2). Reads every .ts file's import specifiers and
 * fails on an edge the layer rules forbid, naming the file and the import.
 */

import { assertEquals } from "@std/assert";

const ROOT = new URL("../", import.meta.url).pathname;

/** Which top-level areas each area may import from (besides itself and external packages). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  "stack/wire": [],
  stack: ["core", "stack/wire"],
  switch: ["core", "stack/wire"],
  cable: ["core"],
  router: ["core", "stack", "stack/wire"],
  mgmt: ["core", "stack", "stack/wire", "switch", "cable", "router", "mgmt"],
  bench: ["core", "stack", "stack/wire", "switch", "cable", "router", "mgmt", "tests"],
  tests: ["core", "stack", "stack/wire", "switch", "cable", "router", "mgmt"],
  "": ["core", "stack", "stack/wire", "switch", "cable", "router", "mgmt"],
};

function areaOf(rel: string): string {
  if (rel.startsWith("stack/wire/")) return "stack/wire";
  const i = rel.indexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".") || e.name === "node_modules" || e.name === "dist") continue;
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* tsFiles(p);
    else if (e.name.endsWith(".ts")) yield p;
  }
}

/** Relative import specifiers of a source text (static imports and exports, dynamic imports). */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\s*\(?\s*["']([^"']+)["']/g;
  for (const m of source.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** The forbidden edges of one file, as "file -> import" strings. */
export function violations(rel: string, source: string): string[] {
  const from = areaOf(rel);
  const isTest = rel.endsWith("_test.ts") || rel.startsWith("tests/");
  const bad: string[] = [];
  for (const spec of importsOf(source)) {
    if (!spec.startsWith(".")) continue; // npm:, node:, jsr:, bare import-map names
    const target = new URL(spec, `file:///${rel}`).pathname.slice(1);
    const to = areaOf(target);
    if (to === from || target === "deno.json") continue;
    // Tests may assemble any layers below mgmt (a switch test plugs in pair cables).
    if (isTest && ALLOWED.tests.includes(to) || isTest && to === "tests") continue;
    if (rel === "main.ts" && !["mgmt", "core"].includes(to)) bad.push(`${rel} -> ${spec}`);
    else if (rel !== "main.ts" && !(ALLOWED[from] ?? []).includes(to)) {
      bad.push(`${rel} -> ${spec}`);
    }
    if (to === "mgmt" && rel !== "main.ts" && from !== "mgmt" && !isTest) {
      bad.push(`${rel} -> ${spec}`);
    }
  }
  return bad;
}

Deno.test("layers: no import breaks the one-way rules of ARCHITECTURE §2", async () => {
  const bad: string[] = [];
  for await (const file of tsFiles(ROOT.replace(/\/$/, ""))) {
    const rel = file.slice(ROOT.length);
    bad.push(...violations(rel, await Deno.readTextFile(file)));
  }
  assertEquals(bad, []);
});

Deno.test("layers: the checker catches a forbidden edge", () => {
  assertEquals(violations("cable/x.ts", `import { Switch } from "../switch/switch.ts";`), [
    "cable/x.ts -> ../switch/switch.ts",
  ]);
  assertEquals(violations("core/x.ts", `export { y } from "../stack/y.ts";`), [
    "core/x.ts -> ../stack/y.ts",
  ]);
  assertEquals(violations("switch/x.ts", `const m = await import("../mgmt/app.ts");`), [
    "switch/x.ts -> ../mgmt/app.ts",
    "switch/x.ts -> ../mgmt/app.ts",
  ]);
  assertEquals(violations("switch/x.ts", `import { macAt } from "../core/mac.ts";`), []);
  assertEquals(
    violations("switch/x_test.ts", `import { f } from "../tests/_harness/frames.ts";`),
    [],
  );
});
