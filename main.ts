/**
 * weft's entry point: the only file that reads Deno.args or calls Deno.exit. It runs one CLI
 * command and turns any error into one line on stderr and an exit code — never a stack trace
 * for bad input (set WEFT_DEBUG=1 to see them for bugs).
 */

import { exitCodeOf, runCli } from "./mgmt/cli/mod.ts";
import { stderrLogger } from "./core/log.ts";

async function main(): Promise<number> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
  const enc = new TextEncoder();
  // Background loops have their own catches; this is the net under them (ARCHITECTURE §5).
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    logger.log("error", "unhandled rejection", { reason: String(e.reason) });
  });
  const logger = stderrLogger(Deno.env.get("WEFT_LOG") === "debug" ? "debug" : "info");
  try {
    return await runCli(Deno.args, {
      logger,
      signal: abort.signal,
      print: (line) => Deno.stdout.writeSync(enc.encode(line + "\n")),
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    Deno.stderr.writeSync(enc.encode(`weft: ${msg}\n`));
    if (Deno.env.get("WEFT_DEBUG")) console.error(e);
    return exitCodeOf(e);
  } finally {
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(sig, stop);
  }
}

Deno.exit(await main());
