/**
 * The write rules every backend applies: ownership, version check, and the
 * storage-set fields `createdAt`, `updatedAt` and `version`.
 *
 * @module
 */
import { ConflictError, UserMismatchError } from "./errors.ts";
import type { SessionContent } from "./parse.ts";
import type { SessionMode, SessionOf } from "./types.ts";

/**
 * Throws what a write of `content` over `previous` (the live stored session,
 * or `null` when absent or expired) must throw: `UserMismatchError` when the
 * session belongs to another user, `ConflictError` when `expectedVersion`
 * is given and differs from the stored version (`0` when absent).
 */
export function checkWrite(
  sessionId: string,
  previous: { userId: string | null; version: number } | null,
  userId: string | null,
  expectedVersion: number | undefined,
): void {
  if (previous && previous.userId !== null && previous.userId !== userId) {
    throw new UserMismatchError(sessionId);
  }
  const actual = previous?.version ?? 0;
  if (expectedVersion !== undefined && expectedVersion !== actual) {
    throw new ConflictError(sessionId, expectedVersion, actual);
  }
}

/**
 * Returns the session to store when `content` is written over `previous`
 * at time `now`, after {@linkcode checkWrite}.
 *
 * @example A first write and an update
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyUpsert } from "./stamp.ts";
 * import { parseSessionInput } from "./parse.ts";
 * const first = applyUpsert(null, parseSessionInput("agent", { sessionId: "s" }), undefined, 10);
 * const second = applyUpsert(first, parseSessionInput("agent", { sessionId: "s" }), 1, 20);
 * assert.deepEqual([second.createdAt, second.updatedAt, second.version], [10, 20, 2]);
 * ```
 */
export function applyUpsert<M extends SessionMode>(
  previous: SessionOf<M> | null,
  content: SessionContent<M>,
  expectedVersion: number | undefined,
  now: number,
): SessionOf<M> {
  checkWrite(content.sessionId, previous, content.userId, expectedVersion);
  return {
    ...content,
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
    version: (previous?.version ?? 0) + 1,
  } as SessionOf<M>;
}
