/**
 * The key-value engine: every {@linkcode SessionDriver} primitive written
 * once over a small {@linkcode KvStore} (get / put / delete a session record,
 * an ordered index scan, a run-log range), so a key-value backend (memory,
 * JSON files, IndexedDB) is a thin adapter holding no session rule.
 *
 * @module
 */
import type {
  AppendContext,
  ChangeContext,
  ImportConflict,
  RunQuery,
  SessionDriver,
  SessionKey,
  WriteContext,
} from "../session/driver.ts";
import { ConflictError, SessionNotFoundError } from "../session/errors.ts";
import { isExpired, type ListQuery } from "../session/list.ts";
import type { SessionContent } from "../session/parse.ts";
import { applyUpsert, checkWrite } from "../session/stamp.ts";
import type {
  AppendRunsResult,
  ImportResult,
  JsonObject,
  RunRecord,
  SessionExport,
  SessionMode,
  SessionOf,
} from "../session/types.ts";

/** A stored session and the length of its run log. */
export interface KvRecord<M extends SessionMode> {
  /** The session as stored. */
  session: SessionOf<M>;
  /** How many runs its log holds (runs beyond this count do not exist). */
  runCount: number;
}

/** A range of a run log, by `seq`. */
export interface RunRange {
  /** Start strictly after this `seq` (in `order`), or at the start when `null`. */
  afterSeq: number | null;
  /** Direction by `seq`. */
  order: "asc" | "desc";
  /** At most this many runs. */
  limit: number;
}

/**
 * One transaction of a {@linkcode KvStore}. Reads see the transaction's own
 * writes; the writes land together when the work resolves and not at all
 * when it throws.
 */
export interface KvTransaction<M extends SessionMode> {
  /** The stored record, expired or not, or `null`. */
  get(sessionId: string): Promise<KvRecord<M> | null>;
  /** Stores the record (insert or replace). */
  put(record: KvRecord<M>): Promise<void>;
  /** Removes the session and its run log. */
  delete(sessionId: string): Promise<void>;
  /** The runs of `record` in `range` (only seqs `1..record.runCount` exist). */
  runs(record: KvRecord<M>, range: RunRange): Promise<RunRecord[]>;
  /** Adds runs after the existing `runCount` ones (their seqs continue the log). */
  appendRuns(sessionId: string, runCount: number, runs: RunRecord[]): Promise<void>;
  /** Replaces the whole run log (empty for a session created afresh). */
  replaceRuns(sessionId: string, runs: RunRecord[]): Promise<void>;
}

/** The primitives a key-value backend supplies to {@linkcode KvEngine}. */
export interface KvStore<M extends SessionMode> {
  /** Creates the store (idempotent). */
  create(): Promise<void>;
  /**
   * Runs `work` in one transaction over the sessions `ids` (a store that locks
   * per key locks exactly these; `readwrite` work touches no other id).
   */
  transact<T>(
    mode: "readonly" | "readwrite",
    ids: readonly string[],
    work: (tx: KvTransaction<M>) => Promise<T>,
  ): Promise<T>;
  /** The first `query.limit + 1` sessions matching `query`, in its order, read through an index. */
  scan(query: ListQuery): Promise<SessionOf<M>[]>;
  /** Like `scan` but ids and times only, where the index holds them. */
  scanKeys?(query: ListQuery): Promise<SessionKey[]>;
  /** Ids of the sessions with `updatedAt <= liveAfter` (candidates; each is checked again). */
  expired(liveAfter: number): Promise<string[]>;
  /** Removes every session and run of this store. */
  drop(): Promise<void>;
  /** Releases handles. */
  close(): Promise<void>;
}

/** How many expired sessions `purge` deletes per transaction. */
const PURGE_BATCH = 100;

/**
 * {@linkcode SessionDriver} over a {@linkcode KvStore}: the write rules,
 * ownership, TTL and run numbering, once for every key-value backend.
 *
 * @example A driver over a store
 * ```ts ignore
 * const driver = new KvEngine(new MyKvStore());
 * ```
 */
export class KvEngine<M extends SessionMode> implements SessionDriver<M> {
  readonly #store: KvStore<M>;

  /** Wraps `store`. */
  constructor(store: KvStore<M>) {
    this.#store = store;
    if (store.scanKeys) this.listKeys = (query) => store.scanKeys!(query);
  }

  /** Ids and times of a page, when the store's index has them. */
  listKeys?: (query: ListQuery) => Promise<SessionKey[]>;

  /** Creates the store. */
  create(): Promise<void> {
    return this.#store.create();
  }

  /** The stored session, expired or not. */
  read(sessionId: string): Promise<SessionOf<M> | null> {
    return this.#store.transact("readonly", [sessionId], async (tx) => (await tx.get(sessionId))?.session ?? null);
  }

  /** Applies the batch in one transaction; a session created afresh starts with an empty run log. */
  write(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    const ids = [...new Set(batch.map((c) => c.sessionId))];
    return this.#store.transact("readwrite", ids, async (tx) => {
      const stored: SessionOf<M>[] = [];
      for (const content of batch) {
        const previous = live(await tx.get(content.sessionId), context.liveAfter);
        const session = applyUpsert(previous?.session ?? null, content, context.expectedVersion, context.now);
        if (previous === null) await tx.replaceRuns(content.sessionId, []);
        await tx.put({ session, runCount: previous?.runCount ?? 0 });
        stored.push(session);
      }
      return stored;
    });
  }

  /** Deletes a live session of the user (when given) with its runs. */
  delete(sessionId: string, context: ChangeContext): Promise<boolean> {
    return this.#store.transact("readwrite", [sessionId], async (tx) => {
      if (owned(await tx.get(sessionId), context) === null) return false;
      await tx.delete(sessionId);
      return true;
    });
  }

  /** Renames a live session of the user (when given) and bumps its version. */
  rename(sessionId: string, sessionName: string | null, context: ChangeContext): Promise<SessionOf<M> | null> {
    return this.#store.transact("readwrite", [sessionId], async (tx) => {
      const record = owned(await tx.get(sessionId), context);
      if (record === null) return null;
      const session = { ...record.session, sessionName, ...bump(record.session, context.now) };
      await tx.put({ session, runCount: record.runCount });
      return session;
    });
  }

  /** A page through the store's index. */
  list(query: ListQuery): Promise<SessionOf<M>[]> {
    return this.#store.scan(query);
  }

  /** Appends runs numbered after the log and bumps the session's version. */
  appendRuns(sessionId: string, runs: JsonObject[], context: AppendContext): Promise<AppendRunsResult> {
    return this.#store.transact("readwrite", [sessionId], async (tx) => {
      const record = live(await tx.get(sessionId), context.liveAfter);
      if (record === null) throw new SessionNotFoundError(sessionId);
      checkWrite(sessionId, record.session, context.userId, context.expectedVersion);
      const records = runs.map((run, i) => ({ seq: record.runCount + i + 1, createdAt: context.now, run }));
      await tx.appendRuns(sessionId, record.runCount, records);
      const session = { ...record.session, ...bump(record.session, context.now) };
      const runCount = record.runCount + records.length;
      await tx.put({ session, runCount });
      return { version: session.version, runCount };
    });
  }

  /** The first `query.limit + 1` runs after the cursor, of a live session of the user. */
  getRuns(sessionId: string, query: RunQuery): Promise<RunRecord[]> {
    return this.#store.transact("readonly", [sessionId], async (tx) => {
      const record = owned(await tx.get(sessionId), query);
      if (record === null) return [];
      return await tx.runs(record, { afterSeq: query.afterSeq, order: query.order, limit: query.limit + 1 });
    });
  }

  /** Checks every entry against what is stored, then writes them all in one transaction. */
  importSessions(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: ImportConflict,
    liveAfter: number | null,
  ): Promise<ImportResult> {
    const ids = entries.map((e) => e.session.sessionId);
    return this.#store.transact("readwrite", ids, async (tx) => {
      const existing: (KvRecord<M> | null)[] = [];
      for (const id of ids) existing.push(live(await tx.get(id), liveAfter));
      const clash = existing.findIndex((record) => record !== null);
      if (onConflict === "fail" && clash >= 0) {
        throw new ConflictError(ids[clash]!, 0, existing[clash]!.session.version);
      }
      let imported = 0;
      for (const [i, { session, runs }] of entries.entries()) {
        if (existing[i] !== null && onConflict === "skip") continue;
        await tx.replaceRuns(session.sessionId, runs);
        await tx.put({ session, runCount: runs.length });
        imported++;
      }
      return { imported, skipped: entries.length - imported };
    });
  }

  /** Deletes expired sessions, each checked again inside its transaction. */
  async purge(liveAfter: number): Promise<number> {
    const candidates = await this.#store.expired(liveAfter);
    let count = 0;
    for (let i = 0; i < candidates.length; i += PURGE_BATCH) {
      const ids = candidates.slice(i, i + PURGE_BATCH);
      count += await this.#store.transact("readwrite", ids, async (tx) => {
        let deleted = 0;
        for (const id of ids) {
          const record = await tx.get(id);
          if (record === null || !isExpired(record.session, liveAfter)) continue;
          await tx.delete(id);
          deleted++;
        }
        return deleted;
      });
    }
    return count;
  }

  /** Removes the store's data. */
  drop(): Promise<void> {
    return this.#store.drop();
  }

  /** Releases the store. */
  close(): Promise<void> {
    return this.#store.close();
  }
}

function live<M extends SessionMode>(record: KvRecord<M> | null, liveAfter: number | null): KvRecord<M> | null {
  return record !== null && !isExpired(record.session, liveAfter) ? record : null;
}

function owned<M extends SessionMode>(
  record: KvRecord<M> | null,
  context: { userId?: string; liveAfter: number | null },
): KvRecord<M> | null {
  const found = live(record, context.liveAfter);
  if (found === null) return null;
  return context.userId !== undefined && found.session.userId !== context.userId ? null : found;
}

/** The fields a write other than an upsert changes: `updatedAt` and `version`. */
function bump(session: { version: number }, now: number): { updatedAt: number; version: number } {
  return { updatedAt: now, version: session.version + 1 };
}
