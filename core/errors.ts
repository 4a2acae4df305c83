/**
 * Domain errors. Their messages are meant for people: they name the value and what was expected
 * (`Cannot open endpoint "foo://x": unknown scheme "foo"`). main.ts maps them to exit codes and the
 * management API to 4xx answers; neither prints a stack trace for them.
 */

/** Bad command-line usage: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Bad configuration or parameter value (a URL, a VLAN spec, a size): exit code 2, HTTP 400. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A resource named twice (a port number, a switch name): HTTP 409. */
export class ConflictError extends Error {
  override name = "ConflictError";
}

/** Parse a whole number and check its range, or throw a ConfigError naming the value. */
export function parseIntIn(what: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(
      `Invalid ${what} "${text}": expected a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

/** A named resource that does not exist (a switch, a port): HTTP 404. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}
