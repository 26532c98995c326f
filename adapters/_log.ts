/**
 * Reading a whole run log, or its last N runs, in `seq` order, page by page:
 * what both framework adapters need.
 *
 * @module
 */
import type { JsonObject, RunRecord, SessionLike, SessionStorage } from "../session/types.ts";

/** The largest page `getRuns` returns. */
const PAGE = 1000;

/** Any storage whose runs are JSON objects, whatever its mode and session types. */
// deno-lint-ignore no-explicit-any
export type RunLogStorage = SessionStorage<SessionLike, any, JsonObject>;

/** Every run of the session (none when it is absent, expired or another user's), oldest first. */
export async function readLog(
  storage: RunLogStorage,
  sessionId: string,
  userId: string | undefined,
): Promise<RunRecord<JsonObject>[]> {
  const runs: RunRecord<JsonObject>[] = [];
  let cursor: string | null = null;
  do {
    const page: { runs: RunRecord<JsonObject>[]; nextCursor: string | null } = await storage.getRuns(
      sessionId,
      { limit: PAGE, cursor, userId },
    );
    runs.push(...page.runs);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return runs;
}

/** The last `count` runs (at least 1), oldest first, read backwards a page at a time. */
export async function readLast(
  storage: RunLogStorage,
  sessionId: string,
  count: number,
  userId: string | undefined,
): Promise<RunRecord<JsonObject>[]> {
  let runs: RunRecord<JsonObject>[] = [];
  let before: number | undefined;
  while (runs.length < count) {
    const last = Math.min(PAGE, count - runs.length);
    const page = await storage.getRuns(sessionId, { last, before, userId });
    runs = [...page.runs, ...runs];
    if (page.runs.length < last) break;
    before = page.runs[0]!.seq;
  }
  return runs;
}
