/**
 * The subset of @std/assert that weft's tests use, on top of node:assert/strict (JSR, where
 * @std/assert lives, is not reachable from this project's machines). Mapped as "@std/assert" in
 * deno.json, so switching to the real package is a one-line change there.
 */

import assertNode from "node:assert/strict";

export function assert(cond: unknown, msg?: string): asserts cond {
  assertNode.ok(cond, msg);
}

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assertNode.deepStrictEqual(actual, expected, msg);
}

export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  assertNode.notDeepStrictEqual(actual, expected, msg);
}

export function assertGreater(actual: number, expected: number, msg?: string): void {
  assertNode.ok(actual > expected, msg ?? `expected ${actual} > ${expected}`);
}

export function assertLessOrEqual(actual: number, expected: number, msg?: string): void {
  assertNode.ok(actual <= expected, msg ?? `expected ${actual} <= ${expected}`);
}

export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  assertNode.match(actual, re, msg);
}

type ErrorClass = new (...a: never[]) => Error;

/** Check a caught error against the expected class and message part; return it. */
function expectError(e: unknown, errorClass?: ErrorClass, includes?: string): Error {
  if (errorClass && !(e instanceof errorClass)) {
    throw new assertNode.AssertionError({ message: `expected ${errorClass.name}, got ${e}` });
  }
  if (includes && !String((e as Error).message).includes(includes)) {
    throw new assertNode.AssertionError({
      message: `expected message to include "${includes}", got "${(e as Error).message}"`,
    });
  }
  return e as Error;
}

export function assertThrows(fn: () => unknown, errorClass?: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    return expectError(e, errorClass, includes);
  }
  throw new assertNode.AssertionError({ message: "expected the function to throw" });
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  errorClass?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return expectError(e, errorClass, includes);
  }
  throw new assertNode.AssertionError({ message: "expected the promise to reject" });
}
