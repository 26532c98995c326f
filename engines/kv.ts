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
  EditContext,
  ImportConflict,
  NewRun,
  RunEdit,
  RunQuery,
  SessionDriver,
  SessionKey,
  StoredRun,
  WriteContext,
} from "../session/driver.ts";
import { ConflictError, RunConflictError, SessionNotFoundError } from "../session/errors.ts";
import { isExpired, type ListQuery } from "../session/list.ts";
import type { SessionContent } from "../session/parse.ts";
import { applyUpsert, checkWrite } from "../session/stamp.ts";
import type { AppendRunsResult, ImportResult, SessionExport, SessionMode, SessionOf } from "../session/types.ts";

/** A stored session and the length of its run log. */
export interface KvRecord<M extends SessionMode> {
  /** The session as stored. */
  session: SessionOf<M>;
  /** How many runs its log holds (runs beyond this count do not exist). */
  runCount: number;
}

/** A range of a run log, by `seq`. */
export interface RunRange {
  /** Only runs with `seq` greater than this, or no lower bound when `null`. */
  seqAbove: number | null;
  /** Only runs with `seq` less than this, or no upper bound when `null`. */
  seqBelow: number | null;
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
  runs(record: KvRecord<M>, range: RunRange): Promise<StoredRun[]>;
  /** The run of `record` stored under `key` (a store without a key index may leave this out: the engine then scans). */
  runByKey?(record: KvRecord<M>, key: string): Promise<StoredRun | null>;
  /**
   * Keeps the first `keep` runs and stores `runs` after them (their seqs
   * continue from `keep`); runs numbered after `keep` that exist are removed.
   */
  appendRuns(sessionId: string, keep: number, runs: StoredRun[]): Promise<void>;
  /** Replaces the whole run log (empty for a session created afresh). */
  replaceRuns(sessionId: string, runs: StoredRun[]): Promise<void>;
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

/** Runs read per step when a store without a key index looks for a key. */
const KEY_SCAN_PAGE = 200;

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

  /** Appends runs (skipping keyed replays) and applies the patch, creating the session when asked to. */
  appendRuns(sessionId: string, runs: NewRun[], context: AppendContext): Promise<AppendRunsResult> {
    return this.#store.transact("readwrite", [sessionId], async (tx) => {
      let record = live(await tx.get(sessionId), context.liveAfter);
      let session: SessionOf<M>;
      const created = record === null;
      if (record === null) {
        if (context.create === undefined) throw new SessionNotFoundError(sessionId);
        const content = context.create as SessionContent<M>;
        session = applyUpsert(null, content, context.expectedVersion, context.now);
        await tx.replaceRuns(sessionId, []);
        record = { session, runCount: 0 };
      } else {
        checkWrite(sessionId, record.session, context.userId, context.expectedVersion);
        session = {
          ...record.session,
          ...context.patch as Partial<SessionOf<M>>,
          ...bump(record.session, context.now),
        };
      }
      const fresh: NewRun[] = [];
      for (const run of runs) {
        const stored = run.key === null ? null : await this.#runByKey(tx, record, run.key);
        if (stored === null) fresh.push(run);
        else if (stored.digest !== run.digest) {
          throw new RunConflictError(
            sessionId,
            record.session.version,
            `key ${JSON.stringify(run.key)} holds another run`,
            run.key,
          );
        }
      }
      if (!created && fresh.length === 0) return { version: record.session.version, runCount: record.runCount }; // a replay
      const records = numbered(fresh, record.runCount, context.now);
      await tx.appendRuns(sessionId, record.runCount, records);
      const runCount = record.runCount + records.length;
      await tx.put({ session, runCount });
      return { version: session.version, runCount };
    });
  }

  /** Rewrites the log after `edit.keepThrough` at the expected version. */
  editRuns(sessionId: string, edit: RunEdit, context: EditContext): Promise<AppendRunsResult> {
    return this.#store.transact("readwrite", [sessionId], async (tx) => {
      const record = live(await tx.get(sessionId), context.liveAfter);
      if (record === null) throw new SessionNotFoundError(sessionId);
      checkWrite(sessionId, record.session, context.userId, context.expectedVersion);
      const keep = Math.min(edit.keepThrough, record.runCount);
      for (const run of edit.add) {
        const stored = run.key === null ? null : await this.#runByKey(tx, record, run.key);
        if (stored !== null && stored.seq <= keep) {
          throw new RunConflictError(
            sessionId,
            record.session.version,
            `key ${JSON.stringify(run.key)} is held by run ${stored.seq}`,
            run.key,
          );
        }
      }
      const records = numbered(edit.add, keep, context.now);
      await tx.appendRuns(sessionId, keep, records);
      const session = { ...record.session, ...bump(record.session, context.now) };
      const runCount = keep + records.length;
      await tx.put({ session, runCount });
      return { version: session.version, runCount };
    });
  }

  /** The runs in the query's seq bounds, of a live session of the user. */
  getRuns(sessionId: string, query: RunQuery): Promise<StoredRun[]> {
    return this.#store.transact("readonly", [sessionId], async (tx) => {
      const record = owned(await tx.get(sessionId), query);
      if (record === null) return [];
      const { seqAbove, seqBelow, order } = query;
      return await tx.runs(record, { seqAbove, seqBelow, order, limit: query.limit + 1 });
    });
  }

  /** The run under `key`, of a live session of the user. */
  getRun(
    sessionId: string,
    key: string,
    query: { userId?: string; liveAfter: number | null },
  ): Promise<StoredRun | null> {
    return this.#store.transact("readonly", [sessionId], async (tx) => {
      const record = owned(await tx.get(sessionId), query);
      return record === null ? null : await this.#runByKey(tx, record, key);
    });
  }

  /** Through the store's key index, or a scan of the log from its end. */
  async #runByKey(tx: KvTransaction<M>, record: KvRecord<M>, key: string): Promise<StoredRun | null> {
    if (tx.runByKey) return await tx.runByKey(record, key);
    for (let below: number | null = null;;) {
      const page = await tx.runs(record, { seqAbove: null, seqBelow: below, order: "desc", limit: KEY_SCAN_PAGE });
      const found = page.find((r) => r.key === key);
      if (found) return found;
      if (page.length < KEY_SCAN_PAGE) return null;
      below = page[page.length - 1]!.seq;
    }
  }

  /** Checks every entry against what is stored, then writes them all in one transaction. */
  importSessions(
    entries: SessionExport<SessionOf<M>, StoredRun>[],
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

function numbered(runs: NewRun[], after: number, now: number): StoredRun[] {
  return runs.map((r, i) => ({
    seq: after + i + 1,
    key: r.key,
    digest: r.digest,
    createdAt: r.createdAt ?? now,
    run: r.run,
  }));
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
