/**
 * File naming of the JSON backend: a session id becomes a file name that
 * cannot escape the directory or collide on a case-insensitive file system,
 * and every name maps to one of the lock stripes.
 *
 * @module
 */

/** How many lock files a mode directory has; a session's writes hold the one its name hashes to. */
export const LOCK_STRIPES = 64;
const MAX_NAME_BYTES = 200;

/**
 * Encodes a session id as a file name (without extension): `s-` then the id
 * with every character other than `a-z`, `0-9`, `-` and `_` written as `%`
 * and two lowercase hex digits per UTF-8 byte; an id whose name would pass
 * 200 bytes is named `h-<sha-256 of the id>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFileName } from "./names.ts";
 * assert.equal(await encodeFileName("Trip/Plan"), "s-%54rip%2f%50lan");
 * ```
 */
export async function encodeFileName(sessionId: string): Promise<string> {
  let name = "s-";
  for (const byte of new TextEncoder().encode(sessionId)) {
    const c = String.fromCharCode(byte);
    name += /[a-z0-9_-]/.test(c) ? c : "%" + byte.toString(16).padStart(2, "0");
  }
  if (name.length <= MAX_NAME_BYTES) return name;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sessionId));
  return "h-" + [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The lock stripe of the file name `name` (FNV-1a). */
export function stripeOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return (h >>> 0) % LOCK_STRIPES;
}
