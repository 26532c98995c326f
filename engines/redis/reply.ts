/**
 * Reading script replies and building scripts: typed views of a
 * {@linkcode RedisReply} that fail loudly on any other shape, and the
 * argument encodings the scripts share.
 *
 * @module
 */
import type { RedisReply, RedisScript } from "./client.ts";

/** A stored hash, field to value; empty when the key is absent. */
export type StoredHash = Record<string, string>;

/** Throws: the reply of `script` is not what it returns. */
export function fail(script: string, reply: RedisReply): never {
  throw new Error(`unexpected reply from the ${script} script: ${JSON.stringify(reply)?.slice(0, 80)}`);
}

/** The reply as an array. */
export function array(script: string, reply: RedisReply): RedisReply[] {
  return Array.isArray(reply) ? reply : fail(script, reply);
}

/** The reply as a safe integer (an integer or its text). */
export function int(script: string, reply: RedisReply | undefined): number {
  const n = typeof reply === "number" ? reply : typeof reply === "string" ? Number(reply) : NaN;
  return Number.isSafeInteger(n) ? n : fail(script, reply ?? null);
}

/** The reply as text. */
export function text(script: string, reply: RedisReply | undefined): string {
  return typeof reply === "string" ? reply : typeof reply === "number" ? String(reply) : fail(script, reply ?? null);
}

/** `null` as "", a value behind its `=` marker. */
export const optional = (value: string | null | undefined): string => value == null ? "" : "=" + value;

/** A marked value: "" is `null`, "=" + value is the value. */
export function unmark(script: string, reply: RedisReply | undefined): string | null {
  const value = text(script, reply);
  return value === "" ? null : value.startsWith("=") ? value.slice(1) : fail(script, reply ?? null);
}

/** A number as an argument, "" for none. */
export const num = (n: number | null | undefined): string => n == null ? "" : String(n);

/** A flat `HGETALL` reply as a record. */
export function hash(script: string, reply: RedisReply): StoredHash {
  const list = array(script, reply);
  const out: StoredHash = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[text(script, list[i])] = text(script, list[i + 1]);
  return out;
}

/** A script from its name, source, encoder and decoder. */
export function script<I, O>(
  name: string,
  source: string,
  encode: (input: I) => { keys: string[]; args: string[] },
  decode: (reply: RedisReply, name: string) => O,
): RedisScript<I, O> {
  return { name, source, encode, decode: (reply) => decode(reply, name) };
}
