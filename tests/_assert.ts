/**
 * The few assertions the conformance suite needs, written without `node:`
 * so the suite also runs in a browser bundle. Same names and meaning as
 * `node:assert/strict`.
 */

/** A failed assertion. */
export class AssertionError extends Error {
  /** Creates the error with `message`. */
  constructor(options: { message: string }) {
    super(options.message);
    this.name = "AssertionError";
  }
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 300) ?? String(value);
  } catch {
    return String(value);
  }
}

function fail(message: string | undefined, detail: string): never {
  throw new AssertionError({ message: message ? `${message}: ${detail}` : detail });
}

/** Deep strict equality of JSON-like values (plain objects, arrays, primitives). */
export function isDeepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && isDeepEqual((a as never)[k], (b as never)[k]));
}

/** Throws unless `Object.is(actual, expected)`. */
export function equal(actual: unknown, expected: unknown, message?: string): void {
  if (!Object.is(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
}

/** Throws if `Object.is(actual, expected)`. */
export function notEqual(actual: unknown, expected: unknown, message?: string): void {
  if (Object.is(actual, expected)) fail(message, `expected anything but ${show(expected)}`);
}

/** Throws unless `actual` and `expected` are deeply and strictly equal. */
export function deepEqual(actual: unknown, expected: unknown, message?: string): void {
  if (!isDeepEqual(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
}

/** Throws unless `value` is truthy. */
export function ok(value: unknown, message?: string): asserts value {
  if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
}
