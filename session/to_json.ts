/**
 * {@linkcode toJsonValue}: turns framework objects (AI SDK messages with
 * `undefined` fields, `Date`s, `URL`s) into the plain JSON storage accepts,
 * and refuses, naming the path, what JSON cannot hold without loss.
 *
 * @module
 */
import { ValidationError } from "./errors.ts";
import type { JsonValue } from "./types.ts";

/**
 * A plain-JSON copy of `value`, as `JSON.parse(JSON.stringify(value))` would
 * make it where that is lossless: `undefined` object fields are dropped
 * (`undefined` in arrays becomes `null`), `Date`s become ISO strings, `URL`s
 * and other objects with `toJSON()` become what it returns. What JSON cannot
 * represent faithfully — `NaN`, `Infinity`, BigInt, functions, symbols,
 * binary data, `Map`, `Set`, other class instances, cycles — is a
 * `ValidationError` naming the path. Storage stays strict by default; call
 * this on purpose for values you accept to see normalised.
 *
 * @example Storing AI SDK messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJsonValue } from "./to_json.ts";
 * const message = { role: "user", content: [{ type: "image", image: new URL("https://x.test/a.png") }], providerOptions: undefined };
 * assert.deepEqual(toJsonValue(message), { role: "user", content: [{ type: "image", image: "https://x.test/a.png" }] });
 * ```
 */
export function toJsonValue(value: unknown): JsonValue {
  return convert(value, [], new Set());
}

function convert(value: unknown, path: (string | number)[], seen: Set<object>): JsonValue {
  const refuse = (what: string): never => {
    throw new ValidationError([{ path, message: `${what} cannot be stored as JSON` }]);
  };
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : refuse(String(value));
    case "object":
      break;
    default:
      return refuse(typeof value === "undefined" ? "undefined" : `a ${typeof value}`);
  }
  if (value === null) return null;
  if (seen.has(value)) return refuse("a cycle");
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return refuse("binary data (encode it, e.g. base64)");
  if (value instanceof Map || value instanceof Set) return refuse(`a ${value.constructor.name}`);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return convert(toJSON.call(value), path, seen);
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item, i) => item === undefined ? null : convert(item, [...path, i], seen));
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      return refuse(`an instance of ${(value as object).constructor?.name ?? "a class"}`);
    }
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      Object.defineProperty(out, key, {
        value: convert(item, [...path, key], seen),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
