/**
 * The contract between the session core ({@linkcode BaseSessionStorage}) and
 * a storage engine. The core checks arguments, applies TTL, encryption,
 * paging and error wrapping; a driver only stores and fetches, and applies
 * the write rules through {@linkcode applyUpsert} / {@linkcode checkWrite}
 * (or, for SQL and Lua, inside one atomic statement whose refusals it
 * explains with {@linkcode checkWrite}).
 *
 * @module
 */
import type { ListQuery } from "./list.ts";
import type { SessionContent } from "./parse.ts";
import type {
  AppendRunsResult,
  ImportResult,
  JsonObject,
  RunRecord,
  SessionExport,
  SessionMode,
  SessionOf,
} from "./types.ts";

/** What a driver's write receives besides the sessions. */
export interface WriteContext {
  /** Version the stored session must have (`0`: absent), from `upsert`'s options. */
  expectedVersion?: number;
  /** The current time, to stamp `updatedAt` (and `createdAt` on insert). */
  now: number;
  /** Stored sessions with `updatedAt <= liveAfter` count as absent; `null` without TTL. */
  liveAfter: number | null;
}

/** A session's id and times: what paging needs. */
export interface SessionKey {
  /** The session's id. */
  sessionId: string;
  /** Its `createdAt`. */
  createdAt: number;
  /** Its `updatedAt`. */
  updatedAt: number;
}

/** What a driver's `appendRuns` receives. */
export interface AppendContext {
  /** The appender's user; `null` when not given (then only an unowned session accepts the append). */
  userId: string | null;
  /** Version the session must have, when given. */
  expectedVersion?: number;
  /** The current time: the session's `updatedAt` and the runs' `createdAt`. */
  now: number;
  /** Stored sessions with `updatedAt <= liveAfter` count as absent; `null` without TTL. */
  liveAfter: number | null;
}

/** A checked `getRuns` request. */
export interface RunQuery {
  /** Only when the session belongs to this user. */
  userId?: string;
  /** Start strictly after this `seq` (in `order`), or at the start when `null`. */
  afterSeq: number | null;
  /** Page size. */
  limit: number;
  /** Direction by `seq`. */
  order: "asc" | "desc";
  /** Stored sessions with `updatedAt <= liveAfter` count as absent; `null` without TTL. */
  liveAfter: number | null;
}

/** What a driver's delete or rename receives. */
export interface ChangeContext {
  /** Only a session of this user is affected. */
  userId?: string;
  /** The current time. */
  now: number;
  /** Stored sessions with `updatedAt <= liveAfter` count as absent; `null` without TTL. */
  liveAfter: number | null;
}

/** How `importSessions` treats a live session with the same id. */
export type ImportConflict = "skip" | "overwrite" | "fail";

/**
 * The storage primitives a backend supplies. Arguments arrive checked
 * (ids, options, JSON) and, with an `encryptionKey`, already encrypted.
 *
 * @typeParam M The mode of the sessions held.
 */
export interface SessionDriver<M extends SessionMode> {
  /** Creates tables, indexes or directories and applies migrations (idempotent). */
  create(): Promise<void>;
  /** The stored session, expired or not, or `null`. */
  read(sessionId: string): Promise<SessionOf<M> | null>;
  /** Writes `batch` in order, atomically where the backend can, applying `applyUpsert`'s rules. */
  write(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]>;
  /** Deletes a live session (of `context.userId` when given) and its runs; `true` when one was deleted. */
  delete(sessionId: string, context: ChangeContext): Promise<boolean>;
  /** Renames a live session (of `context.userId` when given), bumping its version. */
  rename(sessionId: string, sessionName: string | null, context: ChangeContext): Promise<SessionOf<M> | null>;
  /** The first `query.limit + 1` sessions matching `query`, in its order. */
  list(query: ListQuery): Promise<SessionOf<M>[]>;
  /** Like `list` but ids and times only, for drivers that can answer without loading sessions. */
  listKeys?(query: ListQuery): Promise<SessionKey[]>;
  /**
   * Appends `runs` (seq = previous count + 1, + 2, …) and bumps the live
   * session's version, atomically, after `checkWrite`; throws
   * `SessionNotFoundError` when the session is absent or expired.
   */
  appendRuns(sessionId: string, runs: JsonObject[], context: AppendContext): Promise<AppendRunsResult>;
  /** The first `query.limit + 1` runs after `query.afterSeq`; none when the session is not live or not the user's. */
  getRuns(sessionId: string, query: RunQuery): Promise<RunRecord[]>;
  /**
   * Writes sessions and runs as they are; a live session with the same id is
   * kept (`"skip"`), replaced with its runs (`"overwrite"`), or makes the whole
   * import fail with `ConflictError` (`"fail"`). An expired one is replaced.
   */
  importSessions(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: ImportConflict,
    liveAfter: number | null,
  ): Promise<ImportResult>;
  /** Deletes sessions with `updatedAt <= liveAfter`, and their runs; returns how many. */
  purge(liveAfter: number): Promise<number>;
  /** Removes this storage's data and nothing else. */
  drop(): Promise<void>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}
