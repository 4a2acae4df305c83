/**
 * `deno task build`: writes `dist/weft`, ONE executable file that runs weft on a Linux x86_64
 * (glibc) machine without Deno installed (`dist/weft --version`, `dist/weft switch --sock /tmp/x`).
 *
 *     deno run -A build.ts [--entry main.ts] [--out dist/weft] [--mode auto|compile|sfx]
 *
 * Two ways to get there; `--mode auto` (the default) takes `compile` if `DENORT_BIN` is set, else
 * `sfx`:
 *
 * 1. `compile`: the real `deno compile -A --unstable-net`, with `DENORT_BIN` as the runtime.
 *    denort is the slim runtime that reads the program `deno compile` appends to it; it ships as
 *    `denort-x86_64-unknown-linux-gnu.zip` with every Deno release and must be the same version
 *    as the deno running this build. Without `DENORT_BIN`, `deno compile` downloads denort from
 *    dl.deno.land, which this project's machines cannot reach (a DNS error after ~2 s), so
 *    `--mode compile` without it is only for machines with internet. Pointing `DENORT_BIN` at the
 *    full `deno` binary does NOT work (checked with 2.9.6): compile "succeeds" (98 MB), but the
 *    result is the plain deno CLI (`x --version` prints deno's version, `x a` says
 *    `Module not found "file:///.../a"`), because only denort looks for an embedded program.
 *    This build refuses such a `DENORT_BIN` with a one-line error.
 *
 * 2. `sfx`, the offline default: a self-extracting file. `deno bundle --platform deno` turns the
 *    entry and everything it imports (weft's modules, any npm packages) into one ES module whose
 *    only imports are `node:` built-ins, with an inline source map so stack traces
 *    (`WEFT_DEBUG=1`) name the original .ts files and lines. `dist/weft` is a short POSIX sh
 *    header, then that bundle, then the deno binary running this build (`Deno.execPath()`, or
 *    `WEFT_DENO_BIN`), gzipped. The first run unpacks them as `<cache>/deno-<R>/deno` and
 *    `<cache>/deno-<R>/weft-<A>.js`, R and A being sha256 prefixes of the binary and of the
 *    bundle, so a rebuild with the same deno adds only its small .js file to the cache, not
 *    another 96 MB. `<cache>` is `${WEFT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weft}`, or if
 *    HOME is unset or that is not writable, `${TMPDIR:-/tmp}/weft-<uid>` (which must be the
 *    user's own). Both are written under temporary names and renamed into place, so two first
 *    runs at once cannot leave a half-written runtime behind; a run killed by a signal meanwhile
 *    removes its partial copy. Every run then `exec`s
 *    `deno run -A --unstable-net --no-config --no-lock --no-remote --no-npm --cached-only --quiet
 *    weft-<A>.js "$@"`: no network, no deno.json / package.json / deno.lock from the current
 *    directory, no "Download"/"Check" lines; thanks to `exec`, weft's own process gets the
 *    arguments, stdin/stdout/stderr, exit code and signals unchanged. The warm path runs only
 *    shell built-ins. It exports `DENO_NO_UPDATE_CHECK=1`, `DENO_NO_PROMPT=1`,
 *    `DENO_DIR=<cache>/deno-<R>/deno_dir` (V8 code cache) and `WEFT_EXE=<absolute path of the
 *    file>`, so that the program can start copies of itself. Unpacking uses tail, head, gzip, wc,
 *    mkdir, mv, rm, chmod and id (coreutils or busybox). If it cannot start weft at all, it
 *    prints one line `weft: ...` and exits 125.
 *
 * Why `sfx` is built this way, measured on the project's machine (2 cores, deno 2.9.6, whose
 * binary is 95.6 MB): `CompressionStream("gzip")` packs the binary to 42.5 MB in ~2 s with no
 * external tool (`gzip -9`: 41.4 MB in 9.4 s; `xz -6`: 30.5 MB, but 57 s to pack, 1.7 s to unpack,
 * and xz is not on every machine), and `gzip -dc` unpacks it in ~0.7 s. Result: `dist/weft` is
 * ~43 MB and builds in ~5 s; the first run takes ~0.9 s; later runs take ~0.11 s, against
 * ~0.10 s for the same `deno run` started directly.
 *
 * Limits of `sfx` (which `deno compile` shares unless given `--include`): the bundle does not
 * contain files read at run time relative to `import.meta.url`, nor workers or dynamic imports
 * with computed specifiers. Each deno version leaves a ~96 MB runtime in the cache (each build
 * only its .js); delete `~/.cache/weft` to reclaim the space.
 */

import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { Buffer } from "node:buffer";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Changing the launcher's layout or flags changes every cache key through this string. */
const LAUNCHER_FORMAT = "weft-sfx/1";

/** How the launcher starts the unpacked bundle: `deno RUN_FLAGS… weft-<A>.js "$@"`. */
export const RUN_FLAGS = [
  "run",
  "-A",
  "--unstable-net",
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--no-npm",
  "--cached-only",
  "--quiet",
] as const;

/** `deno compile` flags for `--mode compile`; `--output` and the entry follow. */
export const COMPILE_FLAGS = ["compile", "-A", "--unstable-net"] as const;

/** The exit code of dist/weft when it cannot start weft at all (as `env` and `docker` use it). */
export const LAUNCHER_FAILED = 125;

const ROOT = dirname(fileURLToPath(import.meta.url));

/** A mistake by whoever runs the build: printed as one line, without a stack trace. */
export class BuildError extends Error {
  override name = "BuildError";
}

export type Mode = "auto" | "compile" | "sfx";

export interface BuildOptions {
  /** The program to build; default `main.ts` beside this file. */
  entry: string;
  /** The file to write; default `dist/weft` beside this file. */
  out: string;
  mode: Mode;
  /** deno.json whose import map resolves the entry's bare imports. */
  config: string;
}

export interface BuildResult {
  mode: "compile" | "sfx";
  out: string;
  bytes: number;
  /** sfx only: where in the cache the first run unpacks deno and the program. */
  cache?: string;
}

const USAGE = "usage: deno run -A build.ts [--entry FILE] [--out FILE] [--mode auto|compile|sfx]";

export function parseArgs(args: readonly string[], cwd = Deno.cwd()): BuildOptions {
  const opts: BuildOptions = {
    entry: join(ROOT, "main.ts"),
    out: join(ROOT, "dist", "weft"),
    mode: "auto",
    config: join(ROOT, "deno.json"),
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0 && name !== arg) return arg.slice(eq + 1);
      const next = args[++i];
      if (next === undefined) throw new BuildError(`${name} needs a value (${USAGE})`);
      return next;
    };
    switch (name) {
      case "--entry":
        opts.entry = resolve(cwd, value());
        break;
      case "--out":
        opts.out = resolve(cwd, value());
        break;
      case "--mode": {
        const mode = value();
        if (mode !== "auto" && mode !== "compile" && mode !== "sfx") {
          throw new BuildError(`--mode ${mode} is not known; expected auto, compile or sfx`);
        }
        opts.mode = mode;
        break;
      }
      default:
        throw new BuildError(`unexpected argument "${arg}" (${USAGE})`);
    }
  }
  return opts;
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
  const entry = await Deno.stat(opts.entry).catch(() => null);
  if (!entry?.isFile) {
    throw new BuildError(
      `entry ${shown(opts.entry)} is not a file; expected the weft CLI (main.ts) or --entry FILE`,
    );
  }
  const denort = Deno.env.get("DENORT_BIN") || undefined;
  const mode = opts.mode === "auto" ? (denort ? "compile" : "sfx") : opts.mode;
  return mode === "compile" ? await buildCompiled(opts, denort) : await buildSfx(opts);
}

// ---------------------------------------------------------------------------------------------
// deno compile

async function buildCompiled(opts: BuildOptions, denort: string | undefined): Promise<BuildResult> {
  if (denort !== undefined) await checkDenort(denort);
  await Deno.mkdir(dirname(opts.out), { recursive: true });
  const args = [...COMPILE_FLAGS, "--config", opts.config, "--output", opts.out, opts.entry];
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    throw new BuildError(
      `deno compile failed (exit ${out.code})` +
        (denort === undefined
          ? "; without DENORT_BIN it must download denort from dl.deno.land — set DENORT_BIN " +
            "to a denort binary or use --mode sfx"
          : ""),
    );
  }
  const { size } = await Deno.stat(opts.out);
  return { mode: "compile", out: opts.out, bytes: size };
}

/** Refuses a DENORT_BIN that is missing or is the full deno CLI (which ignores the payload). */
async function checkDenort(path: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => null);
  if (!info?.isFile) {
    throw new BuildError(
      `DENORT_BIN=${path} is not a file; expected the denort binary from ` +
        `denort-x86_64-unknown-linux-gnu.zip (or unset DENORT_BIN to build the offline way)`,
    );
  }
  const probe = await new Deno.Command(path, {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    signal: AbortSignal.timeout(30_000),
  }).output().catch(() => null);
  const said = probe ? new TextDecoder().decode(probe.stdout) : "";
  if (probe?.success && /^deno \d/.test(said)) {
    throw new BuildError(
      `DENORT_BIN=${path} is the full deno CLI (${said.split("\n")[0]}), which ignores a ` +
        `compiled program; expected denort from denort-x86_64-unknown-linux-gnu.zip`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// self-extracting file

async function buildSfx(opts: BuildOptions): Promise<BuildResult> {
  const denoPath = Deno.env.get("WEFT_DENO_BIN") || Deno.execPath();
  const deno = await Deno.readFile(denoPath).catch((e: Error) => {
    throw new BuildError(`cannot read the deno binary to embed, ${denoPath}: ${e.message}`);
  });
  checkLinuxX64(denoPath, deno);
  const bundle = await bundleEntry(opts);
  const tag = `${LAUNCHER_FORMAT}\0${RUN_FLAGS.join(" ")}\0`;
  const rtKey = await shortHash(tag, deno);
  const appKey = await shortHash(tag, bundle);
  const packed = await gzip(deno);

  // The header holds the payload offsets, which depend on the header's own length: iterate.
  let header = "";
  for (let at = 0;;) {
    const next = launcher({
      rtKey,
      appKey,
      jsAt: at + 1,
      jsLen: bundle.length,
      rtLen: deno.length,
    });
    if (next === header) break;
    header = next;
    at = new TextEncoder().encode(next).length;
  }

  await Deno.mkdir(dirname(opts.out), { recursive: true });
  const tmp = `${opts.out}.partial-${Deno.pid}`;
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o755 });
    try {
      for (const chunk of [new TextEncoder().encode(header), bundle, ...packed]) {
        await writeAll(file, chunk);
      }
    } finally {
      file.close();
    }
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, opts.out);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  const { size } = await Deno.stat(opts.out);
  return { mode: "sfx", out: opts.out, bytes: size, cache: `deno-${rtKey}/weft-${appKey}.js` };
}

/** dist/weft must carry a Linux x86_64 deno, whatever machine builds it. */
function checkLinuxX64(path: string, bin: Uint8Array): void {
  const elf = bin.length > 20 && bin[0] === 0x7f && bin[1] === 0x45 && bin[2] === 0x4c &&
    bin[3] === 0x46;
  const x64 = elf && bin[4] === 2 && bin[5] === 1 && (bin[18] | (bin[19] << 8)) === 0x3e;
  if (!x64) {
    throw new BuildError(
      `${path} is not a Linux x86_64 executable; dist/weft must embed one — build on Linux ` +
        `x86_64 or set WEFT_DENO_BIN to a Linux x86_64 deno of the same version`,
    );
  }
}

async function bundleEntry(opts: BuildOptions): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "weft-build-" });
  try {
    const file = join(dir, "main.js");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "deno",
        "--packages",
        "bundle",
        "--sourcemap",
        "inline",
        "--config",
        opts.config,
        "--output",
        file,
        opts.entry,
      ],
      cwd: ROOT,
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) {
      throw new BuildError(
        `deno bundle ${shown(opts.entry)} failed (exit ${out.code}, its message is above); ` +
          `expected the entry and all its imports to resolve with ${shown(opts.config)}`,
      );
    }
    const js = absoluteSourceMap(await Deno.readTextFile(file), file);
    checkBundle(js, opts.entry);
    return new TextEncoder().encode(js);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The bundler's inline source map names the sources relative to where it wrote the bundle, which
 * is not where the launcher unpacks it: make them absolute, so that stack traces name the real
 * files (as `deno run main.ts` would).
 */
function absoluteSourceMap(js: string, bundlePath: string): string {
  const m = js.match(
    /\n\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/,
  );
  if (!m) return js;
  const map = JSON.parse(Buffer.from(m[1], "base64").toString("utf8"));
  if (!Array.isArray(map.sources)) return js;
  const base = pathToFileURL(bundlePath);
  map.sources = map.sources.map((src: string) => new URL(src, base).href);
  const b64 = Buffer.from(JSON.stringify(map), "utf8").toString("base64");
  return `${js.slice(0, m.index)}\n//# sourceMappingURL=data:application/json;base64,${b64}\n`;
}

/** The launcher runs with --no-remote --no-npm: only `node:` imports may remain. */
function checkBundle(js: string, entry: string): void {
  const left = new Set<string>();
  for (const m of js.matchAll(/^\s*(?:import|export)\b[^;"'`]*?(?:from\s*)?["']([^"']+)["']/gm)) {
    if (!m[1].startsWith("node:")) left.add(m[1]);
  }
  if (left.size > 0) {
    throw new BuildError(
      `the bundle of ${shown(entry)} still imports ${[...left].join(", ")} at run time; ` +
        `expected every dependency to be inlined (only node: built-ins may stay)`,
    );
  }
}

async function shortHash(tag: string, bytes: Uint8Array): Promise<string> {
  const head = new TextEncoder().encode(tag);
  const all = new Uint8Array(head.length + bytes.length);
  all.set(head, 0);
  all.set(bytes, head.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}

interface LauncherParams {
  /** Names the runtime's cache directory `deno-<rtKey>`: a sha256 prefix of the deno binary. */
  rtKey: string;
  /** Names the program `weft-<appKey>.js` in that directory: a sha256 prefix of the bundle. */
  appKey: string;
  /** 1-based offset of the bundle in the file (for `tail -c +N`); deno.gz follows to the end. */
  jsAt: number;
  jsLen: number;
  /** Size of the unpacked deno binary. */
  rtLen: number;
}

/**
 * The POSIX sh header of dist/weft; everything after its last line is binary payload. The cache
 * holds one runtime directory per deno binary and one small .js file per build in it, so
 * rebuilding weft with the same deno costs ~100 KB of cache, not another ~96 MB.
 */
export function launcher(p: LauncherParams): string {
  const flags = RUN_FLAGS.join(" ");
  return `#!/bin/sh
# weft — self-extracting launcher written by build.ts (${LAUNCHER_FORMAT}). Binary payload follows
# the line "exit ${LAUNCHER_FAILED}": do not edit this file. The first run unpacks deno and the
# bundled program into $WEFT_CACHE_DIR, else \${XDG_CACHE_HOME:-$HOME/.cache}/weft, else
# \${TMPDIR:-/tmp}/weft-<uid>, as deno-${p.rtKey}/{deno,weft-${p.appKey}.js}; later runs exec it.
__weft_rt=deno-${p.rtKey}
__weft_js=weft-${p.appKey}.js
__weft_js_at=${p.jsAt}
__weft_js_len=${p.jsLen}
__weft_rt_at=${p.jsAt + p.jsLen}
__weft_rt_len=${p.rtLen}
__weft_self=$0
case $__weft_self in /*) ;; *) __weft_self=$PWD/$__weft_self ;; esac

__weft_ready() {
  [ -x "$1/$__weft_rt/deno" ] && [ -f "$1/$__weft_rt/$__weft_js" ]
}

# Unpacks deno into $1/.<rt>.<pid> and renames that to $1/<rt>; of concurrent first runs, one
# wins the rename and the others' copies (moved inside the winner's, or left) are removed. The
# program goes the same way, as a file. A signal meanwhile removes the partial copies.
__weft_unpack() {
  [ -d "$1" ] && [ -w "$1" ] || return 1
  __weft_tmp=$1/.$__weft_rt.$$
  __weft_tmpjs=$1/$__weft_rt/.$__weft_js.$$
  trap 'rm -rf "$__weft_tmp" "$__weft_tmpjs"; exit 130' INT
  trap 'rm -rf "$__weft_tmp" "$__weft_tmpjs"; exit 143' TERM
  trap 'rm -rf "$__weft_tmp" "$__weft_tmpjs"; exit 129' HUP
  if [ ! -x "$1/$__weft_rt/deno" ] && rm -rf "$__weft_tmp" && mkdir -m 700 "$__weft_tmp" &&
    tail -c +$__weft_rt_at "$__weft_self" | gzip -dc >"$__weft_tmp/deno" &&
    [ $(wc -c <"$__weft_tmp/deno") -eq $__weft_rt_len ] &&
    chmod 755 "$__weft_tmp/deno"
  then
    mv "$__weft_tmp" "$1/$__weft_rt" 2>/dev/null
    rm -rf "$1/$__weft_rt/.$__weft_rt.$$"
  fi
  rm -rf "$__weft_tmp"
  if [ -x "$1/$__weft_rt/deno" ] && [ ! -f "$1/$__weft_rt/$__weft_js" ] &&
    tail -c +$__weft_js_at "$__weft_self" | head -c $__weft_js_len >"$__weft_tmpjs" &&
    [ $(wc -c <"$__weft_tmpjs") -eq $__weft_js_len ]
  then
    mv -f "$__weft_tmpjs" "$1/$__weft_rt/$__weft_js"
  fi
  rm -f "$__weft_tmpjs"
  trap - INT TERM HUP
  __weft_ready "$1"
}

if [ -n "\${WEFT_CACHE_DIR:-}" ]; then
  __weft_base=$WEFT_CACHE_DIR
  __weft_ready "$__weft_base" || { mkdir -p "$__weft_base" 2>/dev/null; __weft_unpack "$__weft_base"; } || {
    echo "weft: cannot unpack its runtime (about 100 MB) into WEFT_CACHE_DIR=$__weft_base; expected a writable directory with room" >&2
    exit ${LAUNCHER_FAILED}
  }
else
  __weft_base=
  if [ -n "\${XDG_CACHE_HOME:-}" ]; then
    __weft_base=$XDG_CACHE_HOME/weft
  elif [ -n "\${HOME:-}" ]; then
    __weft_base=$HOME/.cache/weft
  fi
  if [ -n "$__weft_base" ] && { __weft_ready "$__weft_base" ||
    { mkdir -p "$__weft_base" 2>/dev/null; __weft_unpack "$__weft_base"; }; }; then
    :
  else
    __weft_home=$__weft_base
    __weft_base=\${TMPDIR:-/tmp}/weft-$(id -u)
    [ -d "$__weft_base" ] || mkdir -m 700 "$__weft_base" 2>/dev/null
    if [ -O "$__weft_base" ] && [ ! -L "$__weft_base" ] &&
      { __weft_ready "$__weft_base" || __weft_unpack "$__weft_base"; }; then
      :
    else
      echo "weft: cannot unpack its runtime (about 100 MB) into \${__weft_home:-the user cache (HOME is unset)} or $__weft_base; expected a writable directory with room, or set WEFT_CACHE_DIR" >&2
      exit ${LAUNCHER_FAILED}
    fi
  fi
fi

__weft_dir=$__weft_base/$__weft_rt
export DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 WEFT_EXE="$__weft_self" DENO_DIR="$__weft_dir/deno_dir"
exec "$__weft_dir/deno" ${flags} "$__weft_dir/$__weft_js" "$@"
exit ${LAUNCHER_FAILED}
`;
}

function shown(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

if (import.meta.main) {
  try {
    const opts = parseArgs(Deno.args);
    const t0 = performance.now();
    const res = await build(opts);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const how = res.mode === "compile"
      ? "deno compile with DENORT_BIN"
      : `self-extracting; the first run unpacks ${res.cache} into ~/.cache/weft`;
    console.log(`build: wrote ${shown(res.out)} (${mb(res.bytes)}, ${how}) in ${secs} s`);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    console.error(`build: ${e.message}`);
    Deno.exit(1);
  }
}
