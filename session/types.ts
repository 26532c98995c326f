/**
 * The session model and the storage contract every backend honours.
 *
 * @module
 */

import type { ContentSchemas } from "./standard_schema.ts";

/** A session's kind. Storages of different modes never see each other's sessions. */
export type SessionMode = "agent" | "team" | "workflow";

/** Every mode, in a fixed order. */
export const SESSION_MODES: readonly SessionMode[] = ["agent", "team", "workflow"];

/** A plain JSON value: no `undefined`, `NaN`, `Infinity`, BigInt, functions, cycles or class instances. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A plain JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** Fields every session has, whatever its mode. */
export interface SessionBase {
  /** Caller-chosen id, 1–512 characters of any well-formed text. */
  sessionId: string;
  /** Owner of the session, or `null` for an unowned one. */
  userId: string | null;
  /** Human-readable name. */
  sessionName: string | null;
  /** The agent's memory. */
  memory: JsonObject | null;
  /** Free-form session state. */
  sessionData: JsonObject | null;
  /** Anything else the caller wants kept. */
  extraData: JsonObject | null;
  /** Epoch milliseconds of the first insert; set by the storage and never changed. */
  createdAt: number;
  /** Epoch milliseconds of the last write; set by the storage. */
  updatedAt: number;
  /** 1 on insert, +1 on every write; set by the storage. */
  version: number;
}

/** A session of an agent. */
export interface AgentSession extends SessionBase {
  /** The agent's id (the entity id of mode `agent`). */
  agentId: string | null;
  /** Data about the agent. */
  agentData: JsonObject | null;
  /** The team session this agent session belongs to. */
  teamSessionId: string | null;
}

/** A session of a team of agents. */
export interface TeamSession extends SessionBase {
  /** The team's id (the entity id of mode `team`). */
  teamId: string | null;
  /** Data about the team. */
  teamData: JsonObject | null;
  /** The parent team session, for nested teams. */
  teamSessionId: string | null;
}

/** A session of a workflow. */
export interface WorkflowSession extends SessionBase {
  /** The workflow's id (the entity id of mode `workflow`). */
  workflowId: string | null;
  /** Data about the workflow. */
  workflowData: JsonObject | null;
}

/** Any session. */
export type Session = AgentSession | TeamSession | WorkflowSession;

/** A session of any mode whose content may be typed (see {@linkcode TypedSession}). */
export type SessionLike = Omit<SessionBase, "memory" | "sessionData"> & { memory: unknown; sessionData: unknown };

/** The session type of a mode. */
export type SessionOf<M extends SessionMode> = {
  agent: AgentSession;
  team: TeamSession;
  workflow: WorkflowSession;
}[M];

/**
 * What callers pass to `upsert` in a mode: the session's fields, missing ones
 * become `null`. `createdAt`, `updatedAt` and `version` may be present (so a
 * session read back can be written again) and are ignored: storage sets them.
 */
export type SessionInputOf<M extends SessionMode> =
  & { sessionId: string }
  & Partial<Omit<SessionOf<M>, "sessionId">>;

/**
 * A mode's session whose `memory` holds `Memory` and `sessionData` holds
 * `Data` (JSON objects by default): what a typed storage returns.
 */
export type TypedSession<M extends SessionMode, Memory = JsonObject, Data = JsonObject> = M extends SessionMode
  ? Omit<SessionOf<M>, "memory" | "sessionData"> & { memory: Memory | null; sessionData: Data | null }
  : never;

/** What a typed storage's `upsert` takes: {@linkcode SessionInputOf} with typed `memory` and `sessionData`. */
export type TypedInput<M extends SessionMode, Memory = JsonObject, Data = JsonObject> = M extends SessionMode
  ? { sessionId: string } & Partial<Omit<TypedSession<M, Memory, Data>, "sessionId">>
  : never;

/** Upsert input of mode `agent`. */
export type AgentSessionInput = SessionInputOf<"agent">;
/** Upsert input of mode `team`. */
export type TeamSessionInput = SessionInputOf<"team">;
/** Upsert input of mode `workflow`. */
export type WorkflowSessionInput = SessionInputOf<"workflow">;

/** Options of `upsert`. */
export interface UpsertOptions {
  /**
   * Write only if the stored version equals this (`0`: the session must not exist),
   * else throw `ConflictError`. Checked atomically with the write.
   */
  expectedVersion?: number;
}

/** Restricts an operation to the sessions of one user. */
export interface UserOption {
  /** When given, only a session whose `userId` equals it is affected. */
  userId?: string;
}

/** Filter of the simple listing methods. */
export interface SessionFilter {
  /** Only sessions of this user. */
  userId?: string;
  /** Only sessions of this agent / team / workflow (by mode). */
  entityId?: string;
}

/** The field a listing is sorted by. */
export type SortField = "createdAt" | "updatedAt";

/** Options of `listSessions`. Time bounds are exclusive. */
export interface ListOptions extends SessionFilter {
  /** Only sessions with exactly this name. */
  sessionName?: string;
  /** Only sessions created strictly after this epoch-ms time. */
  createdAfter?: number;
  /** Only sessions created strictly before this epoch-ms time. */
  createdBefore?: number;
  /** Only sessions updated strictly after this epoch-ms time. */
  updatedAfter?: number;
  /** Only sessions updated strictly before this epoch-ms time. */
  updatedBefore?: number;
  /**
   * Sort key; ties are broken by `sessionId` in code point order.
   * @default {"createdAt"}
   */
  sortBy?: SortField;
  /**
   * Sort direction.
   * @default {"desc"}
   */
  order?: "asc" | "desc";
  /**
   * Page size, 1–1000.
   * @default {20}
   */
  limit?: number;
  /** `nextCursor` of the previous page, with the same sort and filters. */
  cursor?: string | null;
}

/** One page of `listSessions`. */
export interface SessionPage<S> {
  /** The sessions of this page, in order. */
  sessions: S[];
  /** Pass as `cursor` to get the next page; `null` when this page reached the end. */
  nextCursor: string | null;
}

/** Options of `getRecentSessions`. */
export interface RecentOptions extends SessionFilter {
  /**
   * How many sessions, 1–1000.
   * @default {2}
   */
  limit?: number;
}

/** One run (a turn of the conversation, a message) in a session's run log. */
export interface RunRecord<R = JsonObject> {
  /** Position in the log: 1 for the first run, +1 for each next one; contiguous (an edit reuses the seqs it removed). */
  seq: number;
  /** Epoch milliseconds when it was appended. */
  createdAt: number;
  /** The caller's key (e.g. a message id), unique within the session; `null` when none was given. */
  key: string | null;
  /** The run itself. */
  run: R;
}

/** A run as `importSessions` takes it: an export's run, whose `key` older exports leave out. */
export type RunRecordInput<R = JsonObject> = Omit<RunRecord<R>, "key"> & { key?: string | null };

/** Options of `appendRuns`. */
export interface AppendRunsOptions<S extends SessionLike = Session> extends UserOption {
  /** Append only if the session's version equals this, else `ConflictError`. */
  expectedVersion?: number;
  /**
   * One key (or `null`) per run, unique within the session. A run whose key is
   * already stored with equal content is skipped; with other content the call
   * is a `RunKeyConflictError`. When every run is skipped the call is a replay
   * and writes nothing (not even `patch`).
   */
  keys?: (string | null)[];
  /** Session fields to change in the same atomic write (not `sessionId` or `userId`). */
  patch?: SessionPatch<S>;
  /** Create the session (owned by `userId`, with `patch`'s fields) when it is absent or expired. */
  create?: boolean;
}

/** Fields a `patch` (or `appendRuns`' `patch`) may change: everything the caller sets but the ids of the session and its user. */
export type SessionPatch<S extends SessionLike = Session> = Partial<
  Omit<S, "sessionId" | "userId" | "createdAt" | "updatedAt" | "version">
>;

/** Where a run is: by `seq` or by key. */
export type RunAddress = { seq: number } | { key: string };

/** Options of the run-log edits (`putRun`, `truncateRuns`, `popRun`, `replaceRuns`) and `patch`. */
export interface EditOptions extends UserOption {
  /** Edit only if the session's version equals this, else `ConflictError`. */
  expectedVersion?: number;
}

/** Options of `update`. */
export interface UpdateOptions extends UserOption {
  /**
   * How many times to read again and re-apply the function after a `ConflictError`; the last conflict is thrown.
   * @default {5}
   */
  retries?: number;
}

/** What `replaceRuns` takes. */
export interface ReplaceRunsInput<R = JsonObject> {
  /** The tail as the caller read it (from some seq to the end); empty for "at the end". */
  expectedSuffix: RunRecord<R>[];
  /** The runs that take its place. */
  replacement: R[];
  /** One key (or `null`) per replacement run. */
  keys?: (string | null)[];
}

/** What `appendRuns` returns. */
export interface AppendRunsResult {
  /** The session's version after the append (it is bumped once per call). */
  version: number;
  /** How many runs the session has now (the `seq` of the last one). */
  runCount: number;
}

/** Options of `getRuns`. */
export interface GetRunsOptions extends UserOption {
  /** Only runs with a greater `seq`. */
  after?: number;
  /** Only runs with a smaller `seq`. */
  before?: number;
  /** The last `last` runs (before `before` when given), in chronological order; not with `after`, `order`, `limit` or `cursor`. */
  last?: number;
  /**
   * Page size, 1–1000.
   * @default {100}
   */
  limit?: number;
  /**
   * `"asc"`: oldest first.
   * @default {"asc"}
   */
  order?: "asc" | "desc";
  /** `nextCursor` of the previous page with the same order. */
  cursor?: string | null;
}

/** One page of `getRuns`. */
export interface RunPage<R = JsonObject> {
  /** The runs of this page, in order. */
  runs: RunRecord<R>[];
  /** Pass as `cursor` for the next page; `null` when this page reached the end. */
  nextCursor: string | null;
}

/** A session with its run log, as `export` writes it and `importSessions` takes it. */
export interface SessionExport<S extends SessionLike = Session, R extends RunRecordInput<unknown> = RunRecord> {
  /** The session, with its `createdAt`, `updatedAt` and `version`. */
  session: S;
  /** Its runs, `seq` 1, 2, 3, … (`key` may be omitted in older exports: `null`). */
  runs: R[];
}

/** Options of `importSessions`. */
export interface ImportOptions {
  /**
   * What to do when a live session with the same id exists: keep it (`"skip"`),
   * replace it and its runs (`"overwrite"`), or throw `ConflictError` and import
   * nothing (`"fail"`).
   * @default {"fail"}
   */
  onConflict?: "skip" | "overwrite" | "fail";
}

/** What `importSessions` did. */
export interface ImportResult {
  /** Sessions written. */
  imported: number;
  /** Sessions left alone because they existed (`onConflict: "skip"`). */
  skipped: number;
}

/** What a backend can do; third-party backends may lack some. All backends of this package have all. */
export interface StorageCapabilities {
  /** `upsertMany` is all-or-nothing. */
  atomicBatch: boolean;
  /** `expectedVersion` holds across processes, not only within one. */
  crossProcessOcc: boolean;
  /** Data survives `close()` and a new storage on the same location sees it. */
  persistent: boolean;
}

/**
 * The contract every backend honours.
 *
 * @typeParam S The session type of the storage's mode.
 * @typeParam I The upsert input type of the storage's mode.
 * @typeParam R What a run holds.
 */
export interface SessionStorage<S extends SessionLike = Session, I = unknown, R = JsonObject> {
  /** The mode of the sessions held here. */
  readonly mode: SessionMode;
  /** Name of the backend, used in error messages. */
  readonly backend: string;
  /** What this backend can do. */
  readonly capabilities: StorageCapabilities;
  /** Creates tables, indexes or directories and applies migrations. Idempotent; other methods call it when needed. */
  create(): Promise<void>;
  /** The session, or `null` when absent, expired, or owned by another user than `userId`. */
  read(sessionId: string, userId?: string): Promise<S | null>;
  /** Inserts or updates a session and returns it as stored. */
  upsert(input: I, options?: UpsertOptions): Promise<S>;
  /** Upserts several sessions, in order; see `capabilities.atomicBatch`. */
  upsertMany(inputs: I[]): Promise<S[]>;
  /** Deletes a session; `true` when something was deleted. */
  deleteSession(sessionId: string, options?: UserOption): Promise<boolean>;
  /** Sets the session's name; the updated session, or `null` when absent. */
  renameSession(sessionId: string, sessionName: string | null, options?: UserOption): Promise<S | null>;
  /** Ids of every matching session, newest `createdAt` first. */
  getAllSessionIds(filter?: SessionFilter): Promise<string[]>;
  /** Every matching session, newest `createdAt` first. */
  getAllSessions(filter?: SessionFilter): Promise<S[]>;
  /** The `limit` (default 2) newest matching sessions by `createdAt`. */
  getRecentSessions(options?: RecentOptions): Promise<S[]>;
  /** One page of matching sessions, keyset-paginated. */
  listSessions(options?: ListOptions): Promise<SessionPage<S>>;
  /**
   * Appends runs to the session's log after the existing ones, bumping its
   * version once, atomically; ownership and `expectedVersion` as in `upsert`.
   * Throws `SessionNotFoundError` when the session is absent or expired.
   */
  appendRuns(sessionId: string, runs: R[], options?: AppendRunsOptions<S>): Promise<AppendRunsResult>;
  /** A page of the session's runs by `seq`; empty when the session is absent, expired or another user's. */
  getRuns(sessionId: string, options?: GetRunsOptions): Promise<RunPage<R>>;
  /** The run stored under `key`, or `null` (also when the session is absent, expired or another user's). */
  getRun(sessionId: string, key: string, options?: UserOption): Promise<RunRecord<R> | null>;
  /** Replaces one run (its key and `seq` stay), bumping the version; `SessionNotFoundError` when absent. */
  putRun(sessionId: string, at: RunAddress, run: R, options?: EditOptions): Promise<AppendRunsResult>;
  /** Removes every run after `at` (a regenerate); `at: { seq: 0 }` empties the log. */
  truncateRuns(sessionId: string, at: RunAddress, options?: EditOptions): Promise<AppendRunsResult>;
  /** Removes and returns the last run, or `null` when the log is empty. */
  popRun(sessionId: string, options?: EditOptions): Promise<RunRecord<R> | null>;
  /** Swaps the tail for `replacement` only if the tail still is `expectedSuffix` (else `ConflictError`). */
  replaceRuns(sessionId: string, input: ReplaceRunsInput<R>, options?: EditOptions): Promise<AppendRunsResult>;
  /** Changes only the given fields, version-checked; `SessionNotFoundError` when absent. */
  patch(sessionId: string, fields: SessionPatch<S>, options?: EditOptions): Promise<S>;
  /** Reads, applies `fn` (given `null` when absent), writes with `expectedVersion`, and retries on `ConflictError`. */
  update(sessionId: string, fn: (session: S | null) => I | Promise<I>, options?: UpdateOptions): Promise<S>;
  /**
   * Writes sessions exactly as given (`createdAt`, `updatedAt`, `version`
   * kept) with their runs: a restore, for backups and copies between
   * backends. Ownership is not checked. All or nothing where
   * `capabilities.atomicBatch`.
   */
  importSessions(entries: SessionExport<S, RunRecordInput<R>>[], options?: ImportOptions): Promise<ImportResult>;
  /** Deletes sessions not written for `ttlMs`, with their runs; returns how many. `0` without `ttlMs`. */
  purgeExpired(): Promise<number>;
  /** Removes this storage's data (its table, directory, key prefix or object store) and nothing else. */
  drop(): Promise<void>;
  /** Releases connections and handles. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options every backend takes. */
export interface BaseStorageOptions<M extends SessionMode = "agent"> {
  /**
   * The kind of sessions held.
   * @default {"agent"}
   */
  mode?: M;
  /** A session not written for this many milliseconds reads as absent and is not listed. */
  ttlMs?: number;
  /**
   * Source of the current time in epoch milliseconds (inject one in tests).
   * @default {Date.now}
   */
  clock?: () => number;
  /**
   * Encrypts the content fields (`memory`, `sessionData`, `extraData`, the
   * mode's `*Data`) and runs at rest with AES-GCM; ids, users, names and times
   * stay queryable. An AES-GCM `CryptoKey`, or 16, 24 or 32 raw key bytes.
   */
  encryptionKey?: CryptoKey | Uint8Array;
  /**
   * Validators (Standard Schema: zod 4, valibot, arktype …) for `memory`,
   * `sessionData` and runs, applied on write and on read; their issues are
   * `ValidationError`s with the path.
   */
  schemas?: ContentSchemas;
}
