/**
 * Reading stored text back: one place that turns what a backend stored
 * (a file, a column, a hash field, a run entry) into JSON, or into a
 * {@linkcode CorruptRecordError} naming where it was.
 *
 * @module
 */
import { CorruptRecordError } from "./errors.ts";
import type { JsonObject } from "./types.ts";

/**
 * Parses `text` stored at `location` as a JSON object; anything else (not
 * text, not JSON, an array, a number, `null`) is a `CorruptRecordError`
 * saying `what` was expected there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStoredObject } from "./stored.ts";
 * assert.deepEqual(parseStoredObject('{"a":1}', "runs/3", "a run"), { a: 1 });
 * assert.throws(() => parseStoredObject("7", "runs/3", "a run"), /runs\/3: a run is not a JSON object/);
 * ```
 */
export function parseStoredObject(text: unknown, location: string, what: string): JsonObject {
  const value = parseStoredJson(text, location, what);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CorruptRecordError(location, `${what} is not a JSON object`);
  }
  return value as JsonObject;
}

/**
 * Parses `text` stored at `location` as JSON of any shape; text that is not
 * JSON (or not text) is a `CorruptRecordError` saying `what` was expected.
 */
export function parseStoredJson(text: unknown, location: string, what: string): unknown {
  if (typeof text !== "string") throw new CorruptRecordError(location, `${what} is not text`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CorruptRecordError(location, `${what} is not valid JSON`, { cause: error });
  }
}
