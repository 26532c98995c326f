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

/** A run as a driver stores it: the caller's key and a digest of its content, for idempotent retries. */
export interface StoredRun extends RunRecord {
  /**
   * Digest of the run's plain content (keyed by the encryption key when one is
   * set); `null` for an unkeyed run. Equal digests under one key mean a replay.
   */
  digest: string | null;
}

/** A run to store: its content (already sealed), key and digest; `createdAt` is kept when given (edits keep it). */
export interface NewRun {
  /** The caller's key, unique within the session, or `null`. */
  key: string | null;
  /** Digest of the plain content, `null` when `key` is. */
  digest: string | null;
  /** The (sealed) run. */
  run: JsonObject;
  /** Kept from the original when a run is moved by an edit; the write's time otherwise. */
  createdAt?: number;
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
  /** Fields to change in the same write (already checked and sealed). */
  patch?: Partial<SessionContent<SessionMode>>;
  /** When the session is absent or expired, create it from this content (its owner is `userId`) instead of throwing. */
  create?: SessionContent<SessionMode>;
}

/** What a driver's `editRuns` receives. */
export interface EditContext {
  /** The editor's user; `null` when not given (then only an unowned session accepts the edit). */
  userId: string | null;
  /** Version the session must have: edits are always version-checked. */
  expectedVersion: number;
  /** The current time. */
  now: number;
  /** Stored sessions with `updatedAt <= liveAfter` count as absent; `null` without TTL. */
  liveAfter: number | null;
}

/** A rewrite of a run log's tail: keep runs `1..keepThrough`, then `add` numbered from `keepThrough + 1`. */
export interface RunEdit {
  /** The last `seq` kept; every run after it is removed. */
  keepThrough: number;
  /** The runs that follow (keys unique within the session). */
  add: NewRun[];
}

/** A checked `getRuns` request. */
export interface RunQuery {
  /** Only when the session belongs to this user. */
  userId?: string;
  /** Only runs with `seq` greater than this, or no lower bound when `null`. */
  seqAbove: number | null;
  /** Only runs with `seq` less than this, or no upper bound when `null`. */
  seqBelow: number | null;
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
   * Appends `runs` (seq = previous count + 1, + 2, …), applies
   * `context.patch`, and bumps the live session's version, atomically, after
   * `checkWrite`. An absent or expired session is created from
   * `context.create` (with the runs, version 1), or is a
   * `SessionNotFoundError` without it. A keyed run whose key is stored with
   * the same digest is skipped, with another digest a `RunKeyConflictError`;
   * when every run is skipped the call is a replay: nothing is written, not
   * even the patch, and the current version and count are returned.
   */
  appendRuns(sessionId: string, runs: NewRun[], context: AppendContext): Promise<AppendRunsResult>;
  /**
   * Rewrites the tail of the log after `checkWrite` with
   * `context.expectedVersion` and bumps the version, atomically; throws
   * `SessionNotFoundError` when the session is absent, expired or another
   * user's, and `RunKeyConflictError` when an added key is already held by a
   * kept run.
   */
  editRuns(sessionId: string, edit: RunEdit, context: EditContext): Promise<AppendRunsResult>;
  /** The first `query.limit + 1` runs in the seq bounds, in order; none when the session is not live or not the user's. */
  getRuns(sessionId: string, query: RunQuery): Promise<StoredRun[]>;
  /** The run stored under `key`, or `null` (also when the session is not live or not the user's). */
  getRun(
    sessionId: string,
    key: string,
    query: { userId?: string; liveAfter: number | null },
  ): Promise<StoredRun | null>;
  /**
   * Writes sessions and runs as they are; a live session with the same id is
   * kept (`"skip"`), replaced with its runs (`"overwrite"`), or makes the whole
   * import fail with `ConflictError` (`"fail"`). An expired one is replaced.
   */
  importSessions(
    entries: SessionExport<SessionOf<M>, StoredRun>[],
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
