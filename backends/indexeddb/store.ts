/**
 * The {@linkcode KvStore} over IndexedDB that `KvEngine` drives: one
 * IndexedDB transaction per store transaction, listing by cursors over
 * index key ranges.
 *
 * An IndexedDB transaction commits by itself as soon as no request is
 * pending when control returns to the event loop, so a transaction's work
 * may await only this store's own operations (the engine's work does). Reads
 * of the transaction's ids are issued together when it starts; writes are
 * issued at once without waiting for each other, and the transaction
 * commits only after every one succeeded: a failed request or a throw
 * aborts it whole. Work that awaits anything else finds the transaction
 * gone and fails with a `StorageError` saying so.
 *
 * @module
 */
import type { KvRecord, KvStore, KvTransaction, RunRange } from "../../engines/kv.ts";
import type { SessionKey, StoredRun } from "../../session/driver.ts";
import { CorruptRecordError, StorageError } from "../../session/errors.ts";
import { type ListQuery, matchesQuery } from "../../session/list.ts";
import type { SessionMode, SessionOf } from "../../session/types.ts";
import type { Connection } from "./connection.ts";
import { codePoints, type Key, MAX_NUMBER, outcome, type Request, settle, type Store, walk } from "./idb.ts";
import { decodeRecord, decodeRun, decodeSession, encodeRecord, encodeRun, locate } from "./records.ts";

type Stored = Record<string, unknown> | undefined;

/** This mode's two stores in one IndexedDB database, as a {@linkcode KvStore}. */
export class IndexedDbKvStore<M extends SessionMode> implements KvStore<M> {
  readonly #mode: M;
  readonly #conn: Connection;

  /** A store of `mode` over `connection`. */
  constructor(mode: M, connection: Connection) {
    this.#mode = mode;
    this.#conn = connection;
  }

  /** Opens the database, adding this mode's stores and indexes when missing. */
  async create(): Promise<void> {
    await this.#conn.database();
  }

  /** One IndexedDB transaction over both stores; the ids' session records are read at once. */
  async transact<T>(
    mode: "readonly" | "readwrite",
    ids: readonly string[],
    work: (tx: KvTransaction<M>) => Promise<T>,
  ): Promise<T> {
    return await this.#transaction(mode, (sessions, runs, track) => {
      const cache = new Map<string, Promise<Stored>>();
      for (const id of new Set(ids)) cache.set(id, track(sessions.get(id)));
      // Ids read as absent and given no runs since: runs live only under a stored session, so there are none to clear.
      const bare = new Set<string>();
      const runsWritten = new Set<string>();
      const clearRuns = (id: string, keep = 0) => {
        if (!bare.has(id)) track(runs.delete(this.#conn.range([id, keep + 1], [id, MAX_NUMBER])));
      };
      const putRuns = (id: string, log: StoredRun[]) => {
        if (log.length > 0) {
          bare.delete(id);
          runsWritten.add(id);
        }
        for (const r of log) track(runs.put(encodeRun(id, r)));
      };
      const tx: KvTransaction<M> = {
        get: async (id) => {
          if (!cache.has(id)) cache.set(id, track(sessions.get(id)));
          const stored = await cache.get(id)!;
          if (stored === undefined) {
            if (!runsWritten.has(id)) bare.add(id);
            return null;
          }
          return decodeRecord(this.#mode, stored, this.#locate(id));
        },
        put: (record) => {
          const stored = encodeRecord(this.#mode, record);
          track(sessions.put(stored));
          cache.set(record.session.sessionId, Promise.resolve(stored));
          return Promise.resolve();
        },
        delete: (id) => {
          track(sessions.delete(id));
          clearRuns(id);
          cache.set(id, Promise.resolve(undefined));
          return Promise.resolve();
        },
        runs: (record, range) => this.#runs(runs, record, range),
        appendRuns: (id, keep, added) => {
          clearRuns(id, keep); // an edit cuts the runs after `keep`; a plain append finds none
          putRuns(id, added);
          return Promise.resolve();
        },
        replaceRuns: (id, log) => {
          clearRuns(id);
          putRuns(id, log);
          return Promise.resolve();
        },
      };
      return work(tx);
    });
  }

  /** The first `query.limit + 1` sessions matching `query`, walking the index that fits it. */
  async scan(query: ListQuery): Promise<SessionOf<M>[]> {
    const rows = await this.#walkIndex(query);
    return rows.map((r) => decodeSession(this.#mode, r, this.#locate(r.sessionId)));
  }

  /** As `scan`, without parsing the sessions' content. */
  async scanKeys(query: ListQuery): Promise<SessionKey[]> {
    return (await this.#walkIndex(query)).map((r) => {
      const { sessionId, createdAt, updatedAt } = r;
      if (typeof sessionId !== "string" || typeof createdAt !== "number" || typeof updatedAt !== "number") {
        return decodeSession(this.#mode, r, this.#locate(sessionId)); // throws, naming the record
      }
      return { sessionId, createdAt, updatedAt };
    });
  }

  /** A key cursor over the `updated` index up to `liveAfter`. */
  async expired(liveAfter: number): Promise<string[]> {
    return await this.#transaction("readonly", async (sessions) => {
      const ids: string[] = [];
      const range = this.#conn.range([-MAX_NUMBER], [liveAfter, [Infinity]]);
      await walk(sessions.index("updated").openKeyCursor(range), (cursor) => ids.push(String(cursor.primaryKey)) > 0);
      return ids;
    });
  }

  /** Deletes this mode's stores. */
  drop(): Promise<void> {
    return this.#conn.drop();
  }

  /** Closes the connection. */
  close(): Promise<void> {
    this.#conn.close();
    return Promise.resolve();
  }

  #locate(sessionId: unknown): string {
    return locate(this.#conn.dbName, this.#conn.sessions, sessionId);
  }

  /**
   * Runs `work` in one IndexedDB transaction and waits for the commit. Every
   * request goes through `track`, which turns it into a promise and keeps
   * the first failure; a throw, or a failed request, aborts the transaction.
   */
  async #transaction<T>(
    mode: "readonly" | "readwrite",
    work: (sessions: Store, runs: Store, track: <R>(request: Request<R>) => Promise<R>) => Promise<T>,
  ): Promise<T> {
    const db = await this.#conn.database();
    const tx = db.transaction([this.#conn.sessions, this.#conn.runs], mode);
    const ended = outcome(tx);
    const pending: Promise<unknown>[] = [];
    let failure: { error: unknown } | null = null;
    const track = <R>(request: Request<R>): Promise<R> => {
      const promise = settle(request);
      pending.push(promise.catch((error) => failure ??= { error }));
      return promise;
    };
    const sessions = guard(tx.objectStore(this.#conn.sessions));
    const runs = guard(tx.objectStore(this.#conn.runs));
    let result: T;
    try {
      result = await work(sessions, runs, track);
      await Promise.all(pending);
      if (failure !== null) throw (failure as { error: unknown }).error;
    } catch (error) {
      try {
        tx.abort();
      } catch {
        // already committed or aborted
      }
      await ended; // the work's error is the one to report, not the abort's
      throw error;
    }
    const end = await ended;
    if (end !== null) throw end.error;
    return result;
  }

  /**
   * The runs of `record` in `range`: a cursor over the session's key range
   * of the run store, bounded by its run count. Every seq in that range must
   * be there: a gap is a `CorruptRecordError` naming the missing run.
   */
  async #runs(store: Store, record: KvRecord<M>, range: RunRange): Promise<StoredRun[]> {
    const id = record.session.sessionId;
    const asc = range.order === "asc";
    const low = (range.seqAbove ?? 0) + 1;
    const high = Math.min((range.seqBelow ?? record.runCount + 1) - 1, record.runCount);
    const [first, last] = asc ? [low, high] : [high, low];
    if (asc ? first > last : first < last) return [];
    const keys = asc ? this.#conn.range([id, first], [id, last]) : this.#conn.range([id, last], [id, first]);
    const out: StoredRun[] = [];
    let expected = first;
    const missing = () =>
      new CorruptRecordError(
        locate(this.#conn.dbName, this.#conn.runs, [id, expected]),
        `run ${expected} of ${record.runCount} is missing`,
      );
    await walk(store.openCursor(keys, asc ? "next" : "prev"), (cursor) => {
      const location = locate(this.#conn.dbName, this.#conn.runs, [id, cursor.value.seq]);
      if (cursor.value.seq !== expected) throw missing();
      out.push(decodeRun(cursor.value, location));
      expected += asc ? 1 : -1;
      return out.length < range.limit;
    });
    if (out.length < range.limit && (asc ? expected <= last : expected >= last)) throw missing();
    return out;
  }

  /**
   * Walks the index that fits the filter (user, else name, else entity, else
   * none) in the query's order, over the key range of its time bounds and
   * cursor position, until `limit + 1` records pass the other filters and TTL.
   * Records are checked on their plain fields before any is parsed.
   */
  async #walkIndex(query: ListQuery): Promise<Record<string, unknown>[]> {
    const factory = this.#conn.factory;
    await this.#conn.database();
    const sort = query.sortBy === "createdAt" ? "created" : "updated";
    let head: Key[] = [];
    let index = sort;
    if (query.userId !== undefined) [head, index] = [[query.userId], `user_${sort}`];
    else if (query.sessionName !== undefined) [head, index] = [[query.sessionName], `name_${sort}`];
    else if (query.entityId !== undefined) [head, index] = [[query.entityId], `entity_${sort}`];
    const after = query.sortBy === "createdAt" ? query.createdAfter : query.updatedAfter;
    const before = query.sortBy === "createdAt" ? query.createdBefore : query.updatedBefore;
    // Keys are [...head, time, code points of the id]; [Infinity] sorts after every id.
    let lower: Key[] = after === undefined ? [...head, -MAX_NUMBER] : [...head, after, [Infinity]];
    let lowerOpen = after !== undefined;
    let upper: Key[] = before === undefined ? [...head, MAX_NUMBER, [Infinity]] : [...head, before];
    let upperOpen = before !== undefined;
    if (query.after !== null) {
      const position = [...head, query.after.value, codePoints(query.after.sessionId)];
      if (query.order === "asc" && factory.cmp(position, lower) >= 0) [lower, lowerOpen] = [position, true];
      if (query.order === "desc" && factory.cmp(position, upper) <= 0) [upper, upperOpen] = [position, true];
    }
    if (factory.cmp(lower, upper) > 0) return [];
    const range = this.#conn.range(lower, upper, lowerOpen, upperOpen);
    const filter = { ...query, after: null };
    return await this.#transaction("readonly", async (sessions) => {
      const out: Record<string, unknown>[] = [];
      const request = sessions.index(index).openCursor(range, query.order === "asc" ? "next" : "prev");
      await walk(request, (cursor) => {
        if (matchesQuery(cursor.value as unknown as SessionOf<M>, filter, this.#mode)) out.push(cursor.value);
        return out.length <= query.limit;
      });
      return out;
    });
  }
}

/** `store` with a clear error when a request is made after the transaction ended. */
function guard(store: Store): Store {
  const call = <R>(issue: () => R): R => {
    try {
      return issue();
    } catch (error) {
      if ((error as { name?: string })?.name !== "TransactionInactiveError") throw error;
      throw new StorageError(
        "indexeddb: the transaction committed before its work finished (the work awaited something other than the store)",
        { cause: error },
      );
    }
  };
  return {
    get: (key) => call(() => store.get(key)),
    put: (value) => call(() => store.put(value)),
    delete: (key) => call(() => store.delete(key)),
    openCursor: (range, direction) => call(() => store.openCursor(range, direction)),
    openKeyCursor: (range, direction) => call(() => store.openKeyCursor(range, direction)),
    index: (name) => store.index(name),
    indexNames: store.indexNames,
    createIndex: (name, keyPath) => store.createIndex(name, keyPath),
  };
}
