/**
 * The shape of a CLI command and the parsing every command shares. Options are declared once
 * (for `node:util` parseArgs and for the help text), so help and parsing cannot disagree.
 */

import { parseArgs } from "node:util";
import { UsageError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  /** Placeholder for the value in help, e.g. `DIR`. */
  value?: string;
  help: string;
}

export interface CommandContext {
  logger: Logger;
  /** Aborted on SIGINT/SIGTERM: long-running commands stop cleanly. */
  signal: AbortSignal;
  /** Prints a line on stdout (results, not logs). */
  print(line: string): void;
}

export interface Command {
  name: string;
  /** One line for `weft --help`. */
  summary: string;
  /** Positional arguments as shown in usage, e.g. `URL_A URL_B`. */
  positionals: string;
  /** Paragraphs after the usage line. */
  description: string;
  options: Record<string, OptionSpec>;
  /** Runs the command; resolves to the exit code. */
  run(parsed: ParsedArgs, ctx: CommandContext): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** Parse a command's arguments; usage problems become one-line UsageErrors. */
export function parseCommandArgs(cmd: Command, args: string[]): ParsedArgs {
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, o] of Object.entries(cmd.options)) {
    options[name] = { type: o.type, multiple: o.multiple === true };
    if (o.short) options[name].short = o.short;
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new UsageError(`weft ${cmd.name}: ${msg}. See: weft ${cmd.name} --help`);
  }
}

export function commandHelp(cmd: Command): string {
  const lines = [
    `Usage: weft ${cmd.name} [OPTIONS] ${cmd.positionals}`.trimEnd(),
    "",
    cmd.summary,
    "",
    cmd.description,
    "",
    "Options:",
  ];
  const entries = Object.entries(cmd.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`;
    return [flag, o.help + (o.multiple ? " (repeatable)" : "")];
  });
  entries.push(["-h, --help", "Show this help"]);
  const width = Math.max(...entries.map(([f]) => f.length)) + 2;
  for (const [flag, help] of entries) lines.push(`  ${flag.padEnd(width)}${help}`);
  return lines.join("\n");
}

/** The value of a string option, or the default. */
export function stringOpt(p: ParsedArgs, name: string, dflt: string): string;
export function stringOpt(p: ParsedArgs, name: string): string | undefined;
export function stringOpt(p: ParsedArgs, name: string, dflt?: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : dflt;
}

export function listOpt(p: ParsedArgs, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v.map(String) : [];
}

/** Exactly `n` positionals, or a UsageError naming what is expected. */
export function expectPositionals(cmd: Command, p: ParsedArgs, n: number): string[] {
  if (p.positionals.length !== n) {
    throw new UsageError(
      `weft ${cmd.name}: expected ${cmd.positionals}, got ${p.positionals.length} argument(s). ` +
        `See: weft ${cmd.name} --help`,
    );
  }
  return p.positionals;
}

/** `--state DIR`, shared by the commands that need the node's identity or tokens. */
export const STATE_OPTION: OptionSpec = {
  type: "string",
  value: "DIR",
  help: "State directory: identity, tokens (default $WEFT_STATE_DIR, /var/lib/weft as root, " +
    "else ~/.local/state/weft)",
};

/** The state directory: `--state`, $WEFT_STATE_DIR, or the default for this user. */
export function stateDirOf(p: ParsedArgs): string {
  const given = stringOpt(p, "state") ?? Deno.env.get("WEFT_STATE_DIR");
  if (given) return given;
  if (Deno.uid() === 0) return "/var/lib/weft";
  const base = Deno.env.get("XDG_STATE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.local/state`;
  return `${base}/weft`;
}
