/**
 * The `weft` command line: the commands, the top-level help, and running one command with the
 * exit-code rules (0 success, 2 usage or configuration error, 1 runtime error).
 */

import denoJson from "../../deno.json" with { type: "json" };
import { endpointKinds, listenerKinds } from "../../cable/mod.ts";
import { ConfigError, UsageError } from "../../core/errors.ts";
import { type Command, type CommandContext, commandHelp, parseCommandArgs } from "./command.ts";
import { cableCommand } from "./cable_command.ts";
import { plugCommand } from "./plug_command.ts";
import { switchCommand } from "./switch_command.ts";
import { demoCommand } from "./demo_command.ts";
import { idCommand } from "./id_command.ts";
import { ctlCommand } from "./ctl_command.ts";
import { upCommand } from "./up_command.ts";
import { exportCommand } from "./export_command.ts";
import { applyCommand } from "./apply_command.ts";
import { serveCommand } from "./serve_command.ts";
import { pingCommand } from "./ping_command.ts";
import { fetchCommand } from "./fetch_command.ts";
import { routerCommand } from "./router_command.ts";
import { gatewayCommand } from "./gateway_command.ts";

export const VERSION: string = denoJson.version;

export const commands: Command[] = [
  switchCommand,
  plugCommand,
  cableCommand,
  idCommand,
  upCommand,
  exportCommand,
  applyCommand,
  ctlCommand,
  serveCommand,
  pingCommand,
  fetchCommand,
  routerCommand,
  gatewayCommand,
  demoCommand,
];

export function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    "weft — a network fabric in one executable: switches, cables, user-space TCP/IP stacks",
    "",
    "Usage: weft COMMAND [OPTIONS] [ARGS]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Endpoint URLs:",
    ...endpointKinds().map((k) => `  ${k.syntax}`),
    "",
    "Listen URLs (weft switch --listen):",
    ...listenerKinds().map((k) => `  ${k.syntax}`),
    "",
    "Options:",
    "  -h, --help     Show help (also: weft COMMAND --help)",
    "  -V, --version  Print the version",
  ].join("\n");
}

/** Run the CLI; returns the exit code. Only main.ts calls this and Deno.exit. */
export async function runCli(args: string[], ctx: CommandContext): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    const target = name === "help" ? commands.find((c) => c.name === rest[0]) : undefined;
    ctx.print(target ? commandHelp(target) : mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "-V" || name === "--version" || name === "version") {
    ctx.print(`weft ${VERSION}`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    throw new UsageError(
      `Unknown command "${name}": expected one of ${
        commands.map((c) => c.name).join(", ")
      }. See: weft --help`,
    );
  }
  const parsed = parseCommandArgs(cmd, rest);
  if (parsed.values.help) {
    ctx.print(commandHelp(cmd));
    return 0;
  }
  return await cmd.run(parsed, ctx);
}

/** Exit code for an error that escaped a command. */
export function exitCodeOf(e: unknown): number {
  return e instanceof UsageError || e instanceof ConfigError ? 2 : 1;
}
