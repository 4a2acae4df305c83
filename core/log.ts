/**
 * Logging: one line per event on stderr, `level message key=value…`. Injected, so tests can
 * capture or silence it.
 */

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  log(level: Level, message: string, fields?: Record<string, unknown>): void;
}

export function formatLine(
  level: Level,
  message: string,
  fields?: Record<string, unknown>,
): string {
  let line = `${level} ${message}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      const s = String(v);
      line += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
    }
  }
  return line;
}

/** Writes lines at or above `min` to stderr. */
export function stderrLogger(min: Level = "info"): Logger {
  const enc = new TextEncoder();
  return {
    log(level, message, fields) {
      if (ORDER[level] < ORDER[min]) return;
      try {
        Deno.stderr.writeSync(enc.encode(formatLine(level, message, fields) + "\n"));
      } catch {
        // stderr closed: nothing better to do than to stay quiet.
      }
    },
  };
}

/** Keeps lines in memory: for tests. */
export class MemoryLogger implements Logger {
  lines: string[] = [];
  log(level: Level, message: string, fields?: Record<string, unknown>): void {
    this.lines.push(formatLine(level, message, fields));
  }
}

export const silentLogger: Logger = { log() {} };
