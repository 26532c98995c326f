/**
 * {@linkcode IndexedDbStorage}: sessions in the browser's IndexedDB, for
 * offline agents and local-first apps whose data must not leave the device.
 *
 * One database (`dbName`) holds two object stores per mode,
 * `<mode>_sessions` (keyed by `sessionId`) and `<mode>_runs` (keyed by
 * `[sessionId, seq]`). Sessions carry a field `k`, their id as an array of
 * Unicode code points, because IndexedDB compares strings by UTF-16 code
 * units while every backend orders ids by code point. Indexes serve every
 * listing path: `[createdAt, k]`, `[updatedAt, k]`, and the same behind
 * `userId` and behind the mode's entity id. A page opens a cursor on the
 * index that fits the filter, over the key range of the cursor position,
 * and reads about a page (filters the index does not cover are applied while
 * walking it).
 *
 * Every write is one `readwrite` transaction: the version and ownership
 * checks, the put and the indexes happen together or not at all. A
 * `versionchange` from another tab closes this connection; it reopens on next
 * use. Stores of a new mode are added by a version upgrade.
 *
 * `idb-keyval` is used for what it offers that fits, turning requests into
 * promises; the rest is raw IndexedDB because idb-keyval has no indexes,
 * cursors over ranges or multi-store transactions.
 *
 * @module
 */
import { promisifyRequest } from "idb-keyval";
import {
  type AppendContext,
  BaseSessionStorage,
  type ChangeContext,
  type RunQuery,
  type WriteContext,
} from "../session/base.ts";
import { ConflictError, CorruptRecordError, SessionNotFoundError, StorageError } from "../session/errors.ts";
import { isExpired, type ListQuery, matchesQuery } from "../session/list.ts";
import { cloneJson } from "../session/_json.ts";
import { MODE_FIELDS } from "../session/modes.ts";
import { parseStoredSession, type SessionContent } from "../session/parse.ts";
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

// The parts of the IndexedDB API used here (Deno's type library has none).
type Key = unknown;
interface Request<T = unknown> {
  result: T;
  error: unknown;
  onsuccess: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
interface Cursor {
  value: Record<string, unknown>;
  continue(): void;
}
interface Source {
  openCursor(range?: unknown, direction?: "next" | "prev"): Request<Cursor | null>;
}
interface Store extends Source {
  get(key: Key): Request<Record<string, unknown> | undefined>;
  put(value: unknown): Request;
  delete(key: Key): Request;
  clear(): Request;
  index(name: string): Source;
  indexNames: { contains(name: string): boolean };
  createIndex(name: string, keyPath: string | string[]): unknown;
}
interface Transaction {
  objectStore(name: string): Store;
  abort(): void;
  oncomplete: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onabort: ((event: unknown) => void) | null;
  error: unknown;
}
interface Database {
  version: number;
  objectStoreNames: { contains(name: string): boolean };
  transaction(stores: string[], mode: "readonly" | "readwrite"): Transaction;
  createObjectStore(name: string, options: { keyPath: string | string[] }): Store;
  deleteObjectStore(name: string): void;
  close(): void;
  onversionchange: ((event: unknown) => void) | null;
}
interface OpenRequest extends Request<Database> {
  transaction: Transaction | null;
  onupgradeneeded: ((event: unknown) => void) | null;
  onblocked: ((event: unknown) => void) | null;
}
/** The `IDBKeyRange` class (its static `bound`), matching the factory. */
export interface KeyRangeStatic {
  /** A range from `lower` to `upper`. */
  bound(lower: unknown, upper: unknown, lowerOpen?: boolean, upperOpen?: boolean): unknown;
}

/** The `indexedDB` factory (a browser's, or `fake-indexeddb`'s `IDBFactory`). */
export interface IndexedDbFactory {
  /** Opens (and creates or upgrades) a database. */
  open(name: string, version?: number): unknown;
  /** Compares two keys as IndexedDB orders them. */
  cmp(a: unknown, b: unknown): number;
}

/** Options of {@linkcode IndexedDbStorage}. */
export interface IndexedDbStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /**
   * Database name; storages of every mode may share it.
   * @default {"agentstate"}
   */
  dbName?: string;
  /** The factory to use. @default {globalThis.indexedDB} */
  indexedDB?: IndexedDbFactory;
  /** The key range class matching `indexedDB`. @default {globalThis.IDBKeyRange} */
  keyRange?: KeyRangeStatic;
  /**
   * How long to wait for other connections to close before an upgrade fails.
   * @default {5000}
   */
  blockedTimeoutMs?: number;
}

const MAX_NUMBER = Number.MAX_VALUE;

function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const c of text) out.push(c.codePointAt(0)!);
  return out;
}

function done(tx: Transaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

/**
 * Keeps sessions in IndexedDB, in the browser (or anywhere an `IDBFactory` is given).
 *
 * @typeParam M The mode of the sessions held.
 *
 * @example In a web page
 * ```ts ignore
 * import { IndexedDbStorage } from "@agentstate/storage/indexeddb";
 * const storage = new IndexedDbStorage({ mode: "agent", dbName: "my-chat-app" });
 * await storage.upsert({ sessionId: "chat-1", memory: { turns: [] } });
 * const { sessions } = await storage.listSessions({ sortBy: "updatedAt" });
 * ```
 */
export class IndexedDbStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
  /** Transactions make batches atomic; tabs of one origin share the database. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: true, persistent: true };
  /** The database name. */
  readonly dbName: string;
  #factory: IndexedDbFactory | undefined;
  #keyRange: KeyRangeStatic | undefined;
  #blockedTimeoutMs: number;
  #db: Database | null = null;
  #opening: Promise<Database> | null = null;
  #sessions: string;
  #runs: string;

  /** Checks the options; opens the database on first use. */
  constructor(options?: IndexedDbStorageOptions<M>) {
    super("indexeddb", options);
    this.dbName = options?.dbName ?? "agentstate";
    const g = globalThis as unknown as { indexedDB?: IndexedDbFactory; IDBKeyRange?: KeyRangeStatic };
    this.#factory = options?.indexedDB ?? g.indexedDB;
    this.#keyRange = options?.keyRange ?? g.IDBKeyRange;
    this.#blockedTimeoutMs = options?.blockedTimeoutMs ?? 5000;
    this.#sessions = `${this.mode}_sessions`;
    this.#runs = `${this.mode}_runs`;
  }

  #range(lower: Key, upper: Key, lowerOpen = false, upperOpen = false): unknown {
    return this.#keyRange!.bound(lower, upper, lowerOpen, upperOpen);
  }

  /** Opens the database at `version` (or the current one), upgrading with `upgrade`. */
  #open(version: number | undefined, upgrade?: (db: Database) => void): Promise<Database> {
    const factory = this.#factory;
    if (!factory || !this.#keyRange) {
      return Promise.reject(new StorageError("indexeddb: IndexedDB is not available here (no indexedDB global)"));
    }
    return new Promise<Database>((resolve, reject) => {
      const request =
        (version === undefined ? factory.open(this.dbName) : factory.open(this.dbName, version)) as OpenRequest;
      const timer = setTimeout(() => {
        reject(
          new StorageError(`indexeddb: opening "${this.dbName}" is blocked by another connection that does not close`),
        );
      }, this.#blockedTimeoutMs);
      request.onupgradeneeded = () => upgrade?.(request.result);
      request.onblocked = () => {}; // other connections close on versionchange; the timer bounds the wait
      request.onsuccess = () => {
        clearTimeout(timer);
        const db = request.result;
        db.onversionchange = () => {
          db.close();
          if (this.#db === db) this.#db = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        clearTimeout(timer);
        reject(request.error);
      };
    });
  }

  #createStores(db: Database): void {
    const f = MODE_FIELDS[this.mode];
    if (!db.objectStoreNames.contains(this.#sessions)) {
      const store = db.createObjectStore(this.#sessions, { keyPath: "sessionId" });
      store.createIndex("created", ["createdAt", "k"]);
      store.createIndex("updated", ["updatedAt", "k"]);
      store.createIndex("user_created", ["userId", "createdAt", "k"]);
      store.createIndex("user_updated", ["userId", "updatedAt", "k"]);
      store.createIndex("entity_created", [f.entity, "createdAt", "k"]);
      store.createIndex("entity_updated", [f.entity, "updatedAt", "k"]);
    }
    if (!db.objectStoreNames.contains(this.#runs)) db.createObjectStore(this.#runs, { keyPath: ["sessionId", "seq"] });
  }

  async #database(): Promise<Database> {
    if (this.#db) return this.#db;
    this.#opening ??= (async () => {
      let db = await this.#open(undefined);
      if (!db.objectStoreNames.contains(this.#sessions) || !db.objectStoreNames.contains(this.#runs)) {
        const next = db.version + 1;
        db.close();
        db = await this.#open(next, (upgrading) => this.#createStores(upgrading));
      }
      this.#db = db;
      return db;
    })().finally(() => this.#opening = null);
    return await this.#opening;
  }

  /** Runs `work` in one transaction over this mode's stores and waits for it to commit. */
  async #transact<T>(mode: "readonly" | "readwrite", work: (sessions: Store, runs: Store) => Promise<T>): Promise<T> {
    const db = await this.#database();
    const tx = db.transaction([this.#sessions, this.#runs], mode);
    const committed = done(tx);
    let result: T;
    try {
      result = await work(tx.objectStore(this.#sessions), tx.objectStore(this.#runs));
    } catch (error) {
      try {
        tx.abort();
      } catch {
        // already finished
      }
      await committed.catch(() => {});
      throw error;
    }
    await committed;
    return result;
  }

  /** Fields kept as real values (indexed or checked in transactions); the rest is one JSON string, `data`. */
  #plainFields(): string[] {
    return ["sessionId", "userId", "sessionName", MODE_FIELDS[this.mode].entity, "createdAt", "updatedAt", "version"];
  }

  #toSession(record: Record<string, unknown> | undefined): SessionOf<M> | null {
    if (record === undefined) return null;
    const location = `${this.dbName}/${this.#sessions}/${JSON.stringify(record.sessionId)}`;
    let data: Record<string, unknown> = {};
    try {
      // Layout 1 kept every field inline; layout 2 keeps content as JSON text in `data`.
      data = record.data === undefined ? record : JSON.parse(String(record.data));
    } catch (error) {
      throw new CorruptRecordError(location, "data is not JSON", { cause: error, backend: this.backend });
    }
    const plain = this.#plainFields();
    const out: Record<string, unknown> = {};
    for (const name of MODE_FIELDS[this.mode].all) out[name] = plain.includes(name) ? record[name] : data[name];
    return parseStoredSession(this.mode, out, location);
  }

  /**
   * The stored record. Content goes in as a JSON string: structured cloning
   * would recurse through deeply nested values (and overflow near 10 000
   * levels), and a string clones faster.
   */
  #toRecord(session: SessionOf<M>, runCount: number): Record<string, unknown> {
    const record: Record<string, unknown> = { k: codePoints(session.sessionId), runCount };
    const data: Record<string, unknown> = {};
    const plain = this.#plainFields();
    for (const [name, value] of Object.entries(session)) (plain.includes(name) ? record : data)[name] = value;
    record.data = JSON.stringify(data);
    return record;
  }

  #toRun(value: Record<string, unknown>): RunRecord {
    const { seq, createdAt, run } = value as { seq: number; createdAt: number; run: string };
    try {
      return { seq, createdAt, run: JSON.parse(run) };
    } catch (error) {
      throw new CorruptRecordError(`${this.dbName}/${this.#runs}/${seq}`, "run is not JSON", {
        cause: error,
        backend: this.backend,
      });
    }
  }

  /** Opens the database and adds this mode's stores when missing. */
  protected async doCreate(): Promise<void> {
    await this.#database();
  }

  /** One `get`. */
  protected async doRead(sessionId: string): Promise<SessionOf<M> | null> {
    return await this.#transact(
      "readonly",
      async (sessions) => this.#toSession(await promisifyRequest(sessions.get(sessionId))),
    );
  }

  #liveRecord(record: Record<string, unknown> | undefined, liveAfter: number | null) {
    if (record === undefined) return null;
    return isExpired(record as unknown as SessionOf<M>, liveAfter) ? null : record;
  }

  async #clearRuns(runs: Store, sessionId: string): Promise<void> {
    await promisifyRequest(runs.delete(this.#range([sessionId, 0], [sessionId, MAX_NUMBER])));
  }

  /** One transaction: read, check and stamp each session, put them; any refusal aborts it whole. */
  protected async doWrite(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    return await this.#transact("readwrite", async (sessions, runs) => {
      const out: SessionOf<M>[] = [];
      for (const content of batch) {
        const stored = this.#liveRecord(await promisifyRequest(sessions.get(content.sessionId)), context.liveAfter);
        const previous = stored ? this.#toSession(stored) : null;
        const next = applyUpsert(previous, content, context.expectedVersion, context.now);
        if (previous === null) await this.#clearRuns(runs, content.sessionId);
        await promisifyRequest(sessions.put(this.#toRecord(next, previous ? Number(stored!.runCount ?? 0) : 0)));
        out.push(next);
      }
      return cloneJson(out);
    });
  }

  async #owned(sessions: Store, sessionId: string, context: { userId?: string; liveAfter: number | null }) {
    const record = this.#liveRecord(await promisifyRequest(sessions.get(sessionId)), context.liveAfter);
    if (!record) return null;
    return context.userId !== undefined && record.userId !== context.userId ? null : record;
  }

  /** One transaction deleting the session and its runs. */
  protected async doDelete(sessionId: string, context: ChangeContext): Promise<boolean> {
    return await this.#transact("readwrite", async (sessions, runs) => {
      if (!await this.#owned(sessions, sessionId, context)) return false;
      await promisifyRequest(sessions.delete(sessionId));
      await this.#clearRuns(runs, sessionId);
      return true;
    });
  }

  /** One transaction. */
  protected async doRename(
    sessionId: string,
    sessionName: string | null,
    context: ChangeContext,
  ): Promise<SessionOf<M> | null> {
    return await this.#transact("readwrite", async (sessions) => {
      const record = await this.#owned(sessions, sessionId, context);
      if (!record) return null;
      const next = { ...record, sessionName, updatedAt: context.now, version: Number(record.version) + 1 };
      await promisifyRequest(sessions.put(next));
      return this.#toSession(next);
    });
  }

  /** A cursor over the index that fits the filter, from the cursor position, until a page matched. */
  protected async doList(query: ListQuery): Promise<SessionOf<M>[]> {
    const factory = this.#factory!;
    const sort = query.sortBy === "createdAt" ? "created" : "updated";
    let head: Key[] = [];
    let index = sort;
    if (query.userId !== undefined) [head, index] = [[query.userId], `user_${sort}`];
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
    const range = this.#range(lower, upper, lowerOpen, upperOpen);
    return await this.#transact("readonly", (sessions) =>
      new Promise<SessionOf<M>[]>((resolve, reject) => {
        const out: SessionOf<M>[] = [];
        const request = sessions.index(index).openCursor(range, query.order === "asc" ? "next" : "prev");
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const cursor = request.result;
          if (!cursor) return resolve(out);
          try {
            const session = this.#toSession(cursor.value)!;
            if (matchesQuery(session, { ...query, after: null }, this.mode)) out.push(session);
          } catch (error) {
            return reject(error);
          }
          if (out.length > query.limit) resolve(out);
          else cursor.continue();
        };
      }));
  }

  /** One transaction: checks, puts the runs, bumps the version. */
  protected override async doAppendRuns(
    sessionId: string,
    runs: JsonObject[],
    context: AppendContext,
  ): Promise<AppendRunsResult> {
    return await this.#transact("readwrite", async (sessions, runStore) => {
      const record = this.#liveRecord(await promisifyRequest(sessions.get(sessionId)), context.liveAfter);
      if (!record) throw new SessionNotFoundError(sessionId, { backend: this.backend });
      const session = this.#toSession(record)!;
      checkWrite(sessionId, session, context.userId, context.expectedVersion);
      const start = Number(record.runCount ?? 0);
      for (const [i, run] of runs.entries()) {
        await promisifyRequest(
          runStore.put({ sessionId, seq: start + i + 1, createdAt: context.now, run: JSON.stringify(run) }),
        );
      }
      const version = session.version + 1;
      await promisifyRequest(
        sessions.put({ ...record, updatedAt: context.now, version, runCount: start + runs.length }),
      );
      return { version, runCount: start + runs.length };
    });
  }

  /** A cursor over the session's key range of the runs store. */
  protected override async doGetRuns(sessionId: string, query: RunQuery): Promise<RunRecord[]> {
    return await this.#transact("readonly", async (sessions, runStore) => {
      const record = await this.#owned(sessions, sessionId, query);
      if (!record) return [];
      const count = Number(record.runCount ?? 0);
      const asc = query.order === "asc";
      if (asc ? (query.afterSeq ?? 0) >= count : (query.afterSeq ?? count + 1) <= 1) return [];
      const range = asc
        ? this.#range([sessionId, query.afterSeq ?? 0], [sessionId, count], true, false)
        : this.#range([sessionId, 0], [sessionId, query.afterSeq ?? count + 1], true, true);
      return await new Promise<RunRecord[]>((resolve, reject) => {
        const out: RunRecord[] = [];
        const request = runStore.openCursor(range, asc ? "next" : "prev");
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const cursor = request.result;
          if (!cursor || out.length > query.limit) return resolve(out);
          out.push(this.#toRun(cursor.value));
          cursor.continue();
        };
      });
    });
  }

  /** One transaction for the whole import. */
  protected override async doImport(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: "skip" | "overwrite" | "fail",
    liveAfter: number | null,
  ): Promise<ImportResult> {
    return await this.#transact("readwrite", async (sessions, runs) => {
      let imported = 0;
      for (const { session, runs: log } of entries) {
        const existing = this.#liveRecord(await promisifyRequest(sessions.get(session.sessionId)), liveAfter);
        if (existing && onConflict === "fail") {
          throw new ConflictError(session.sessionId, 0, Number(existing.version), { backend: this.backend });
        }
        if (existing && onConflict === "skip") continue;
        await this.#clearRuns(runs, session.sessionId);
        for (const r of log) {
          await promisifyRequest(runs.put({ sessionId: session.sessionId, ...r, run: JSON.stringify(r.run) }));
        }
        await promisifyRequest(sessions.put(this.#toRecord(session, log.length)));
        imported++;
      }
      return { imported, skipped: entries.length - imported };
    });
  }

  /** Walks the `updated` index up to `liveAfter`, deleting sessions and their runs. */
  protected async doPurge(liveAfter: number): Promise<number> {
    const expired = await this.#transact("readonly", (sessions) =>
      new Promise<string[]>((resolve, reject) => {
        const ids: string[] = [];
        const request = sessions.index("updated").openCursor(this.#range([-MAX_NUMBER], [liveAfter, [Infinity]]));
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const cursor = request.result;
          if (!cursor) return resolve(ids);
          ids.push(String(cursor.value.sessionId));
          cursor.continue();
        };
      }));
    let count = 0;
    for (const id of expired) {
      count += await this.#transact("readwrite", async (sessions, runs) => {
        const record = await promisifyRequest(sessions.get(id));
        if (!record || !isExpired(record as unknown as SessionOf<M>, liveAfter)) return 0;
        await promisifyRequest(sessions.delete(id));
        await this.#clearRuns(runs, id);
        return 1;
      });
    }
    return count;
  }

  /** Deletes this mode's stores with a version upgrade; other modes' stores stay. */
  protected async doDrop(): Promise<void> {
    const db = await this.#database();
    const next = db.version + 1;
    db.close();
    this.#db = null;
    const upgraded = await this.#open(next, (upgrading) => {
      for (const name of [this.#sessions, this.#runs]) {
        if (upgrading.objectStoreNames.contains(name)) upgrading.deleteObjectStore(name);
      }
    });
    upgraded.close();
  }

  /** Closes the connection. */
  protected doClose(): Promise<void> {
    this.#db?.close();
    this.#db = null;
    return Promise.resolve();
  }
}
