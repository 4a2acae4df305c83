import { UsageError } from "../../core/errors.ts";
import { fetchVia } from "../../stack/http/fetch.ts";
import type { Command } from "./command.ts";
import { stringOpt } from "./command.ts";
import { openStack, STACK_OPTIONS, stackConfigOf } from "./stack_options.ts";

/** `weft fetch`: an HTTP client on a stack of its own (the download/upload side of the IoTh tests). */
export const fetchCommand: Command = {
  name: "fetch",
  summary: "HTTP request from a user-space stack of its own (like curl, http:// only)",
  positionals: "URL...",
  description: [
    "Starts a TCP/IP stack on the switch at --switch, sends an HTTP request to each URL through it",
    "(one fresh connection each) and writes the bodies, one after another, to --output (or",
    "stdout). Prints status, size and rate of each on stderr.",
    "  weft fetch --switch vde:///tmp/sw --ip 10.0.0.9/24 -o page.html http://10.0.0.2/",
    "  weft fetch --switch vde:///tmp/sw --ip 10.0.0.9/24 -X PUT --upload big.bin http://10.0.0.1:8000/big.bin",
  ].join("\n"),
  options: {
    ...STACK_OPTIONS,
    output: {
      type: "string",
      short: "o",
      value: "FILE",
      help: "Write the body to FILE (default stdout)",
    },
    request: {
      type: "string",
      short: "X",
      value: "METHOD",
      help: "Request method (default GET, PUT with --upload)",
    },
    upload: { type: "string", short: "T", value: "FILE", help: "Send FILE as the request body" },
  },
  async run(p, ctx) {
    if (p.positionals.length === 0) {
      throw new UsageError("weft fetch: expected URL... See: weft fetch --help");
    }
    const cfg = stackConfigOf(this.name, p);
    for (const url of p.positionals) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new UsageError(`weft fetch: "${url}": not a URL`);
      }
      if (parsed.protocol !== "http:") {
        throw new UsageError(`weft fetch: "${url}": only http:// is supported`);
      }
    }
    const upload = stringOpt(p, "upload");
    if (upload && p.positionals.length > 1) {
      throw new UsageError("weft fetch: --upload sends one file to one URL");
    }
    const method = stringOpt(p, "request", upload ? "PUT" : "GET").toUpperCase();
    const size = upload ? (await Deno.stat(upload)).size : 0;
    const outPath = stringOpt(p, "output");
    const stack = await openStack(cfg, p, ctx);
    // Opened once: the bodies follow one another in the file, as they would on stdout (and a
    // benchmark's 200 small GETs do not pay 200 opens, truncates and closes).
    let out: Deno.FsFile | typeof Deno.stdout = Deno.stdout;
    let failed = 0;
    try {
      if (outPath) out = await Deno.open(outPath, { write: true, create: true, truncate: true });
      // One fresh connection per URL, in order, on the same stack (as a benchmark client would).
      for (const url of p.positionals) {
        const body = upload ? await Deno.open(upload) : undefined;
        const t0 = performance.now();
        const res = await fetchVia((hostname, port) => stack.connect({ hostname, port }), url, {
          method,
          body: body?.readable,
          headers: upload ? { "content-length": String(size) } : undefined,
          signal: ctx.signal,
        });
        let bytes = 0;
        if (res.body) {
          for await (const chunk of res.body) {
            bytes += chunk.length;
            for (let o = 0; o < chunk.length;) o += await out.write(chunk.subarray(o));
          }
        }
        const s = (performance.now() - t0) / 1000;
        const moved = Math.max(bytes, size);
        console.error(
          `${res.status} ${res.statusText} ${url}: ${bytes} bytes received, ${size} sent in ` +
            `${s.toFixed(3)} s (${(moved / 1048576 / s).toFixed(1)} MiB/s)`,
        );
        if (!res.ok) failed++;
      }
      return failed ? 1 : 0;
    } finally {
      if (out !== Deno.stdout) out.close();
      await stack.close();
    }
  },
};
