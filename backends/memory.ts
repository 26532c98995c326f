/**
 * {@linkcode MemoryStorage}: sessions in a `Map`, the reference implementation
 * the conformance and property tests compare every other backend against.
 *
 * @module
 */
import {
  type AppendContext,
  BaseSessionStorage,
  type ChangeContext,
  type RunQuery,
  type WriteContext,
} from "../session/base.ts";
import { ConflictError, SessionNotFoundError } from "../session/errors.ts";
import { compareSessions, isExpired, type ListQuery, matchesQuery } from "../session/list.ts";
import type { SessionContent } from "../session/parse.ts";
import { cloneJson } from "../session/_json.ts";
import { applyUpsert, checkWrite } from "../session/stamp.ts";
import type {
  AppendRunsResult,
  BaseStorageOptions,
  ImportResult,
  JsonObject,
  RunRecord,
  SessionExport,
  SessionMode,
  SessionOf,
  StorageCapabilities,
} from "../session/types.ts";

/** Options of {@linkcode MemoryStorage}. */
export type MemoryStorageOptions<M extends SessionMode = "agent"> = BaseStorageOptions<M>;

/**
 * Keeps sessions in process memory. Nothing survives the process; use it in
 * tests and as the model of the contract.
 *
 * @typeParam M The mode of the sessions held.
 *
 * @example Save and read back
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStorage } from "./memory.ts";
 * await using storage = new MemoryStorage({ mode: "agent" });
 * await storage.upsert({ sessionId: "s1", userId: "u1", memory: { turns: 1 } });
 * const session = await storage.read("s1");
 * assert.equal(session?.version, 1);
 * assert.deepEqual(session?.memory, { turns: 1 });
 * ```
 */
export class MemoryStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
  /** Batches are all or nothing; nothing is shared between processes. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: false, persistent: false };
  #sessions = new Map<string, SessionOf<M>>();
  #runs = new Map<string, RunRecord[]>();

  /** Creates an empty in-memory storage. */
  constructor(options?: MemoryStorageOptions<M>) {
    super("memory", options);
  }

  #live(sessionId: string, liveAfter: number | null): SessionOf<M> | null {
    const session = this.#sessions.get(sessionId);
    return session && !isExpired(session, liveAfter) ? session : null;
  }

  /** Nothing to create. */
  protected doCreate(): Promise<void> {
    return Promise.resolve();
  }

  /** A copy of the stored session. */
  protected doRead(sessionId: string): Promise<SessionOf<M> | null> {
    const session = this.#sessions.get(sessionId);
    return Promise.resolve(session ? cloneJson(session) : null);
  }

  /** Applies the batch to a scratch map, then commits it whole. */
  protected doWrite(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    const staged = new Map<string, SessionOf<M>>();
    const stored = batch.map((content) => {
      const previous = staged.get(content.sessionId) ?? this.#live(content.sessionId, context.liveAfter);
      const next = applyUpsert(previous, cloneJson(content), context.expectedVersion, context.now);
      staged.set(content.sessionId, next);
      return cloneJson(next);
    });
    for (const [id, session] of staged) {
      // A session created afresh (absent or expired before) starts with an empty run log.
      if (session.version === 1) this.#runs.delete(id);
      this.#sessions.set(id, session);
    }
    return Promise.resolve(stored);
  }

  #owned(sessionId: string, context: ChangeContext): SessionOf<M> | null {
    const session = this.#live(sessionId, context.liveAfter);
    if (session === null) return null;
    return context.userId !== undefined && session.userId !== context.userId ? null : session;
  }

  /** Deletes a live session (an expired one is left for `purgeExpired`, as on every backend). */
  protected doDelete(sessionId: string, context: ChangeContext): Promise<boolean> {
    if (this.#owned(sessionId, context) === null) return Promise.resolve(false);
    this.#sessions.delete(sessionId);
    this.#runs.delete(sessionId);
    return Promise.resolve(true);
  }

  /** Renames and bumps the version. */
  protected doRename(
    sessionId: string,
    sessionName: string | null,
    context: ChangeContext,
  ): Promise<SessionOf<M> | null> {
    const session = this.#owned(sessionId, context);
    if (session === null) return Promise.resolve(null);
    const next = { ...session, sessionName, updatedAt: context.now, version: session.version + 1 };
    this.#sessions.set(sessionId, next);
    return Promise.resolve(cloneJson(next));
  }

  /** Filters and sorts every session: fine for a model, not for large stores. */
  protected doList(query: ListQuery): Promise<SessionOf<M>[]> {
    const rows = [...this.#sessions.values()]
      .filter((s) => matchesQuery(s, query, this.mode))
      .sort((a, b) => compareSessions(a, b, query.sortBy, query.order))
      .slice(0, query.limit + 1);
    return Promise.resolve(cloneJson(rows));
  }

  /** Appends to the session's array of runs and bumps its version. */
  protected override doAppendRuns(
    sessionId: string,
    runs: JsonObject[],
    context: AppendContext,
  ): Promise<AppendRunsResult> {
    const session = this.#live(sessionId, context.liveAfter);
    if (session === null) return Promise.reject(new SessionNotFoundError(sessionId));
    checkWrite(sessionId, session, context.userId, context.expectedVersion);
    const log = this.#runs.get(sessionId) ?? [];
    for (const run of runs) log.push({ seq: log.length + 1, createdAt: context.now, run });
    this.#runs.set(sessionId, log);
    const version = session.version + 1;
    this.#sessions.set(sessionId, { ...session, updatedAt: context.now, version });
    return Promise.resolve({ version, runCount: log.length });
  }

  /** Slices the session's array of runs. */
  protected override doGetRuns(sessionId: string, query: RunQuery): Promise<RunRecord[]> {
    const session = this.#owned(sessionId, { ...query, now: 0 });
    if (session === null) return Promise.resolve([]);
    const log = this.#runs.get(sessionId) ?? [];
    const after = query.afterSeq;
    const rows = query.order === "asc"
      ? log.filter((r) => after === null || r.seq > after)
      : log.filter((r) => after === null || r.seq < after).reverse();
    return Promise.resolve(cloneJson(rows.slice(0, query.limit + 1)));
  }

  /** Checks every entry first, then writes them all. */
  protected override doImport(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: "skip" | "overwrite" | "fail",
    liveAfter: number | null,
  ): Promise<ImportResult> {
    const existing = entries.map((e) => this.#live(e.session.sessionId, liveAfter));
    const clash = existing.findIndex((s) => s !== null);
    if (onConflict === "fail" && clash >= 0) {
      return Promise.reject(new ConflictError(entries[clash]!.session.sessionId, 0, existing[clash]!.version));
    }
    let imported = 0;
    for (const [i, { session, runs }] of entries.entries()) {
      if (existing[i] !== null && onConflict === "skip") continue;
      this.#sessions.set(session.sessionId, cloneJson(session));
      this.#runs.set(session.sessionId, cloneJson(runs));
      imported++;
    }
    return Promise.resolve({ imported, skipped: entries.length - imported });
  }

  /** Deletes expired sessions. */
  protected doPurge(liveAfter: number): Promise<number> {
    let count = 0;
    for (const [id, session] of this.#sessions) {
      if (isExpired(session, liveAfter)) {
        this.#sessions.delete(id);
        this.#runs.delete(id);
        count++;
      }
    }
    return Promise.resolve(count);
  }

  /** Forgets every session. */
  protected doDrop(): Promise<void> {
    this.#sessions.clear();
    this.#runs.clear();
    return Promise.resolve();
  }

  /** Nothing to release. */
  protected doClose(): Promise<void> {
    return Promise.resolve();
  }
}
