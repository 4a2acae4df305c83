/**
 * `build.ts --mode sfx` end to end: builds a small stand-in program (args, stdin, exit code,
 * signals, a local import, a node: built-in) into a temp dir and runs the result the way a user
 * without Deno would: `env -i`, a PATH holding only the tools the launcher needs (no deno), and a
 * current directory whose broken deno.json must be ignored.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(fileURLToPath(import.meta.url));

/** What the launcher runs when it unpacks; the warm path needs none of them. */
const UNPACK_TOOLS = ["tail", "head", "gzip", "wc", "mkdir", "mv", "rm", "chmod", "id"];

const ENTRY = `
import { greet } from "./helper.ts";
import { basename } from "node:path";

const args = Deno.args;
if (args[0] === "wait-signal") {
  Deno.addSignalListener("SIGTERM", () => Deno.exit(42));
  console.log("ready");
  setInterval(() => {}, 1000);
} else {
  const input = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  const exe = Deno.env.get("WEFT_EXE") ?? "";
  console.log(JSON.stringify({ args, greet: greet(), exe, name: basename(exe) }));
  for (let done = 0; done < input.length;) done += await Deno.stdout.write(input.subarray(done));
  const code = args.find((a) => a.startsWith("--exit="));
  Deno.exit(code ? Number(code.slice(7)) : 0);
}
`;

const HELPER = `export function greet(): string { return "hello from helper"; }\n`;

interface Ran {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

async function run(
  cmd: string,
  args: string[],
  opts: { env: Record<string, string>; cwd: string; stdin?: Uint8Array; timeoutMs?: number },
): Promise<Ran> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(opts.stdin ?? new Uint8Array());
  await writer.close();
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = new Uint8Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  return all;
}

async function which(tool: string): Promise<string> {
  for (const dir of ["/usr/bin", "/bin"]) {
    const path = join(dir, tool);
    if (await Deno.stat(path).then((s) => s.isFile, () => false)) return path;
  }
  throw new Error(`${tool} not found in /usr/bin or /bin; the launcher needs it to unpack`);
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("build: dist/weft is one self-extracting executable that needs no deno", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-build-test-" });
  try {
    const src = join(tmp, "src");
    const dist = join(tmp, "dist");
    const weft = join(dist, "weft");
    const bin = join(tmp, "bin");
    const empty = join(tmp, "empty");
    const cwd = join(tmp, "cwd");
    for (const d of [src, bin, empty, cwd]) await Deno.mkdir(d);
    await Deno.writeTextFile(join(src, "entry.ts"), ENTRY);
    await Deno.writeTextFile(join(src, "helper.ts"), HELPER);
    await Deno.writeTextFile(join(cwd, "deno.json"), "{ this is not json");
    for (const tool of UNPACK_TOOLS) await Deno.symlink(await which(tool), join(bin, tool));

    const input = new Uint8Array(200_000).map((_, i) => (i * 7919 + (i >> 8)) & 0xff);
    const args = ["a", "b c", "", "*", "$HOME", "--exit=3", "ünïcødé", "--version"];
    const expect = (argv: string[], stdin: Uint8Array) =>
      concat(
        new TextEncoder().encode(
          JSON.stringify({ args: argv, greet: "hello from helper", exe: weft, name: "weft" }) +
            "\n",
        ),
        stdin,
      );

    const build = async (out: string) => {
      const res = await run(Deno.execPath(), [
        "run",
        "-A",
        join(ROOT, "build.ts"),
        "--entry",
        join(src, "entry.ts"),
        "--out",
        out,
        "--mode",
        "sfx",
      ], { env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" }, cwd: ROOT, timeoutMs: 180_000 });
      assertEquals(res.code, 0, res.stderr);
    };

    await t.step("build.ts --mode sfx writes one executable file", async () => {
      await build(weft);
      assertEquals(await entries(dist), ["weft"]);
      const info = await Deno.stat(weft);
      assert(info.isFile);
      assertEquals((info.mode ?? 0) & 0o111, 0o111, "dist/weft is executable");
      const head = new TextDecoder().decode((await Deno.readFile(weft)).subarray(0, 10));
      assertEquals(head, "#!/bin/sh\n");
    });

    const home = join(tmp, "home");
    const cache = join(home, ".cache", "weft");

    await t.step("first run unpacks and passes args, stdin, stdout, exit code", async () => {
      const res = await run(weft, args, { env: { PATH: bin, HOME: home }, cwd, stdin: input });
      assertEquals(res.stderr, "");
      assertEquals(res.code, 3);
      assertEquals(res.stdout, expect(args, input));
      const keys = await entries(cache);
      assertEquals(keys.length, 1, `one cache entry, no leftovers: ${keys}`);
      assertMatch(keys[0], /^deno-[0-9a-f]{16}$/);
      const files = await entries(join(cache, keys[0]));
      assertEquals(files.length, 3, `deno, deno_dir, weft-*.js and no leftovers: ${files}`);
      assertEquals(files.slice(0, 2), ["deno", "deno_dir"]);
      assertMatch(files[2], /^weft-[0-9a-f]{16}\.js$/);
    });

    await t.step("second run uses the cache: no tools and no deno on PATH", async () => {
      const res = await run(weft, ["again"], {
        env: { PATH: empty, HOME: home },
        cwd,
        stdin: new TextEncoder().encode("x"),
      });
      assertEquals(res.stderr, "");
      assertEquals(res.code, 0);
      assertEquals(res.stdout, expect(["again"], new TextEncoder().encode("x")));
    });

    await t.step("signals reach the program (exec, no shell in between)", async () => {
      const child = new Deno.Command(weft, {
        args: ["wait-signal"],
        cwd,
        env: { PATH: empty, HOME: home },
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).spawn();
      const reader = child.stdout.getReader();
      let seen = "";
      while (!seen.includes("ready\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      assertEquals(seen, "ready\n");
      child.kill("SIGTERM");
      const status = await child.status;
      await child.stderr.cancel();
      await child.stdout.cancel();
      assertEquals(status.code, 42);
    });

    await t.step("two first runs at once both work and leave one cache entry", async () => {
      const home2 = join(tmp, "home2");
      const env = { PATH: bin, HOME: home2 };
      const [r1, r2] = await Promise.all([
        run(weft, ["one"], { env, cwd }),
        run(weft, ["two"], { env, cwd }),
      ]);
      assertEquals([r1.code, r1.stderr, r2.code, r2.stderr], [0, "", 0, ""]);
      assertEquals(r1.stdout, expect(["one"], new Uint8Array()));
      assertEquals(r2.stdout, expect(["two"], new Uint8Array()));
      const keys = await entries(join(home2, ".cache", "weft"));
      assertEquals(keys.length, 1, `one cache entry, no leftovers: ${keys}`);
      const files = await entries(join(home2, ".cache", "weft", keys[0]));
      assertEquals(files.length, 3, `deno, deno_dir, weft-*.js and no leftovers: ${files}`);
    });

    await t.step("a rebuilt program reuses the unpacked runtime (no gzip needed)", async () => {
      await Deno.writeTextFile(join(src, "helper.ts"), HELPER.replace("hello", "hi"));
      const weft2 = join(tmp, "dist2", "weft");
      await build(weft2);
      const noGzip = join(tmp, "bin-no-gzip");
      await Deno.mkdir(noGzip);
      for (const tool of UNPACK_TOOLS.filter((t) => t !== "gzip")) {
        await Deno.symlink(await which(tool), join(noGzip, tool));
      }
      const res = await run(weft2, [], { env: { PATH: noGzip, HOME: home }, cwd });
      assertEquals([res.code, res.stderr], [0, ""]);
      assertMatch(new TextDecoder().decode(res.stdout), /"greet":"hi from helper"/);
      const keys = await entries(cache);
      assertEquals(keys.length, 1, `still one runtime: ${keys}`);
      const files = await entries(join(cache, keys[0]));
      assertEquals(files.length, 4, `deno, deno_dir and two weft-*.js: ${files}`);
    });

    await t.step("without HOME it unpacks under TMPDIR/weft-<uid>", async () => {
      const tmpdir = join(tmp, "tmpdir");
      await Deno.mkdir(tmpdir);
      const res = await run(weft, ["nohome"], { env: { PATH: bin, TMPDIR: tmpdir }, cwd });
      assertEquals([res.code, res.stderr], [0, ""]);
      assertEquals(await entries(tmpdir), [`weft-${Deno.uid()}`]);
    });

    await t.step("an unusable WEFT_CACHE_DIR fails with one line and exit 125", async () => {
      const file = join(tmp, "a-file");
      await Deno.writeTextFile(file, "");
      const res = await run(weft, ["x"], {
        env: { PATH: bin, HOME: home, WEFT_CACHE_DIR: join(file, "sub") },
        cwd,
      });
      assertEquals(res.code, 125);
      assertEquals(res.stdout.length, 0);
      assertMatch(res.stderr, /^weft: cannot unpack its runtime .*WEFT_CACHE_DIR=.*\n$/);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
