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
 * `userId`, behind `sessionName` and behind the mode's entity id (a session
 * whose `userId`, name or entity is `null` is simply absent from that index).
 * A page opens a cursor on the index that fits the filter (user first, then
 * name, then entity), over the key range of the time bounds and the cursor
 * position, and reads about a page: filters the chosen index does not cover,
 * and TTL, are applied while walking it, so a page costs more only when many
 * sessions in its range fail those filters.
 *
 * Every write is one `readwrite` transaction: the version and ownership
 * checks, the put and the indexes happen together or not at all, and
 * `upsertMany` aborts the whole transaction on the first refusal. Stores and
 * indexes of a mode are added by a version upgrade when a storage of that
 * mode first opens the database (storages of several modes may open it at
 * once: each retries until its stores exist); `drop()` deletes this mode's
 * stores by another upgrade. A `versionchange` from another storage or tab
 * closes this connection and it reopens on next use; an upgrade blocked by a
 * connection that never closes fails after `blockedTimeoutMs`.
 *
 * `idb-keyval` is used for what it offers that fits, `promisifyRequest`
 * (requests as promises); the rest is raw IndexedDB because idb-keyval has a
 * single key-value store per database, with no indexes, cursors over key
 * ranges or transactions across stores.
 *
 * @module
 */
import { promisifyRequest } from "idb-keyval";
import { BaseSessionStorage } from "../session/base.ts";
import type { AppendContext, ChangeContext, RunQuery, SessionKey, WriteContext } from "../session/driver.ts";
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
const MAX_UPGRADE_ATTEMPTS = 20;
/** Index name prefix and the field in front of the time (`null`: none; `"entity"`: the mode's entity id). */
const INDEX_HEADS: [string, string | null][] = [
  ["", null],
  ["user_", "userId"],
  ["name_", "sessionName"],
  ["entity_", "entity"],
];

function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const c of text) out.push(c.codePointAt(0)!);
  return out;
}

/** idb-keyval's `promisifyRequest`, typed for the structural types above (with or without the DOM library). */
function settle<T>(request: Request<T>): Promise<T> {
  return promisifyRequest(request as unknown as Parameters<typeof promisifyRequest>[0]) as Promise<T>;
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

  /**
   * Opens the database at `version` (or the current one); `upgrade` runs in
   * `onupgradeneeded`. Other connections get `versionchange` and close; if
   * one does not within `blockedTimeoutMs`, the open fails (and its upgrade,
   * should it start later, is aborted).
   */
  #open(version: number | undefined, upgrade: ((db: Database, tx: Transaction) => void) | null): Promise<Database> {
    const factory = this.#factory;
    if (!factory) {
      return Promise.reject(
        new StorageError("indexeddb: IndexedDB is not available here: no global indexedDB, and no indexedDB option", {
          backend: this.backend,
        }),
      );
    }
    if (!this.#keyRange) {
      return Promise.reject(
        new StorageError("indexeddb: no global IDBKeyRange: pass the keyRange option that goes with indexedDB", {
          backend: this.backend,
        }),
      );
    }
    return new Promise<Database>((resolve, reject) => {
      let gaveUp = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const request =
        (version === undefined ? factory.open(this.dbName) : factory.open(this.dbName, version)) as OpenRequest;
      request.onblocked = () => {
        timer ??= setTimeout(() => {
          gaveUp = true;
          reject(
            new StorageError(
              `indexeddb: upgrading "${this.dbName}" is blocked by another connection that does not close`,
              { backend: this.backend },
            ),
          );
        }, this.#blockedTimeoutMs);
      };
      request.onupgradeneeded = () => {
        if (gaveUp) request.transaction!.abort();
        else upgrade?.(request.result, request.transaction!);
      };
      request.onsuccess = () => {
        clearTimeout(timer);
        const db = request.result;
        if (gaveUp) return db.close();
        db.onversionchange = () => {
          db.close();
          if (this.#db === db) this.#db = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        clearTimeout(timer);
        if (!gaveUp) reject(request.error);
      };
    });
  }

  /** Whether this mode's stores or any of their indexes are missing. */
  #needsUpgrade(db: Database): boolean {
    if (!db.objectStoreNames.contains(this.#sessions) || !db.objectStoreNames.contains(this.#runs)) return true;
    const names = db.transaction([this.#sessions], "readonly").objectStore(this.#sessions).indexNames;
    return this.#indexes().some(([name]) => !names.contains(name));
  }

  /** In `onupgradeneeded`: adds this mode's missing stores and indexes (an older layout gains its new indexes). */
  #upgradeSchema(db: Database, tx: Transaction): void {
    const store = db.objectStoreNames.contains(this.#sessions)
      ? tx.objectStore(this.#sessions)
      : db.createObjectStore(this.#sessions, { keyPath: "sessionId" });
    for (const [name, keyPath] of this.#indexes()) {
      if (!store.indexNames.contains(name)) store.createIndex(name, keyPath);
    }
    if (!db.objectStoreNames.contains(this.#runs)) db.createObjectStore(this.#runs, { keyPath: ["sessionId", "seq"] });
  }

  /** The session store's indexes: name and key path. */
  #indexes(): [string, string[]][] {
    const out: [string, string[]][] = [];
    for (const [prefix, head] of INDEX_HEADS) {
      const field = head === "entity" ? MODE_FIELDS[this.mode].entity : head;
      for (const [sort, time] of [["created", "createdAt"], ["updated", "updatedAt"]]) {
        out.push([`${prefix}${sort}`, field === null ? [time!, "k"] : [field, time!, "k"]]);
      }
    }
    return out;
  }

  /**
   * Opens the database until `ready(db)`, upgrading it by one version with
   * `upgrade` each time it is not: storages of other modes (or other tabs)
   * may upgrade it at the same moment, so an upgrade can find its version
   * taken (`VersionError`, or no upgrade event); then it tries again.
   */
  async #openUntil(ready: (db: Database) => boolean, upgrade: (db: Database, tx: Transaction) => void) {
    let version: number | undefined;
    for (let attempt = 0; attempt < MAX_UPGRADE_ATTEMPTS; attempt++) {
      let db: Database;
      try {
        db = await this.#open(version, upgrade);
      } catch (error) {
        if (version === undefined || (error as { name?: string })?.name !== "VersionError") throw error;
        version = undefined;
        continue;
      }
      if (ready(db)) return db;
      version = db.version + 1;
      db.close();
    }
    throw new StorageError(`indexeddb: "${this.dbName}" kept being upgraded by other connections; try again`, {
      backend: this.backend,
    });
  }

  async #database(): Promise<Database> {
    if (this.#db) return this.#db;
    this.#opening ??= this.#openUntil(
      (db) => !this.#needsUpgrade(db),
      (db, tx) => this.#upgradeSchema(db, tx),
    ).then((db) => this.#db = db).finally(() => this.#opening = null);
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
      async (sessions) => this.#toSession(await settle(sessions.get(sessionId))),
    );
  }

  #liveRecord(record: Record<string, unknown> | undefined, liveAfter: number | null) {
    if (record === undefined) return null;
    return isExpired(record as unknown as SessionOf<M>, liveAfter) ? null : record;
  }

  async #clearRuns(runs: Store, sessionId: string): Promise<void> {
    await settle(runs.delete(this.#range([sessionId, 0], [sessionId, MAX_NUMBER])));
  }

  /**
   * One transaction: reads every session of the batch, checks and stamps
   * them in order (a refusal aborts the transaction whole), then puts them.
   * Requests are issued together, not one round trip after another.
   */
  protected async doWrite(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    return await this.#transact("readwrite", async (sessions, runs) => {
      const ids = [...new Set(batch.map((content) => content.sessionId))];
      const stored = new Map(await Promise.all(ids.map(async (id) => [id, await settle(sessions.get(id))] as const)));
      // Per id: the session as the batch leaves it, its run count, and whether old runs must go.
      const staged = new Map<string, { session: SessionOf<M> | null; runCount: number; clear: boolean }>();
      const out = batch.map((content) => {
        const id = content.sessionId;
        let previous = staged.get(id);
        if (previous === undefined) {
          const record = stored.get(id);
          const live = this.#liveRecord(record, context.liveAfter);
          // An expired session written again starts afresh, without its old runs.
          previous = live
            ? { session: this.#toSession(live), runCount: Number(live.runCount ?? 0), clear: false }
            : { session: null, runCount: 0, clear: record !== undefined };
        }
        const next = applyUpsert(previous.session, content, context.expectedVersion, context.now);
        staged.set(id, { ...previous, session: next });
        return next;
      });
      const writes: Promise<unknown>[] = [];
      for (const [id, { session, runCount, clear }] of staged) {
        if (clear) writes.push(this.#clearRuns(runs, id));
        writes.push(settle(sessions.put(this.#toRecord(session!, runCount))));
      }
      await Promise.all(writes);
      return cloneJson(out);
    });
  }

  async #owned(sessions: Store, sessionId: string, context: { userId?: string; liveAfter: number | null }) {
    const record = this.#liveRecord(await settle(sessions.get(sessionId)), context.liveAfter);
    if (!record) return null;
    return context.userId !== undefined && record.userId !== context.userId ? null : record;
  }

  /** One transaction deleting the session and its runs. */
  protected async doDelete(sessionId: string, context: ChangeContext): Promise<boolean> {
    return await this.#transact("readwrite", async (sessions, runs) => {
      if (!await this.#owned(sessions, sessionId, context)) return false;
      await settle(sessions.delete(sessionId));
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
      await settle(sessions.put(next));
      return this.#toSession(next);
    });
  }

  /**
   * Walks the index that fits the filter (user, else name, else entity, else
   * none) in the query's order, over the key range of its time bounds and
   * cursor position, until `limit + 1` records pass the other filters and TTL.
   * Records are checked before they are parsed; only those kept are parsed.
   */
  async #walk(query: ListQuery): Promise<Record<string, unknown>[]> {
    const factory = this.#factory!;
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
    const range = this.#range(lower, upper, lowerOpen, upperOpen);
    const filter = { ...query, after: null };
    return await this.#transact("readonly", (sessions) =>
      new Promise<Record<string, unknown>[]>((resolve, reject) => {
        const out: Record<string, unknown>[] = [];
        const request = sessions.index(index).openCursor(range, query.order === "asc" ? "next" : "prev");
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const cursor = request.result;
          if (!cursor) return resolve(out);
          // The fields matchesQuery reads (ids, name, entity, times) are stored as plain values.
          if (matchesQuery(cursor.value as unknown as SessionOf<M>, filter, this.mode)) out.push(cursor.value);
          if (out.length > query.limit) resolve(out);
          else cursor.continue();
        };
      }));
  }

  /** A cursor over the index that fits the filter, from the cursor position, until a page matched. */
  protected async doList(query: ListQuery): Promise<SessionOf<M>[]> {
    return (await this.#walk(query)).map((record) => this.#toSession(record)!);
  }

  /** As `doList`, without parsing the sessions' content. */
  protected override async doListKeys(query: ListQuery): Promise<SessionKey[]> {
    return (await this.#walk(query)).map((r) => {
      const { sessionId, createdAt, updatedAt } = r;
      if (typeof sessionId !== "string" || typeof createdAt !== "number" || typeof updatedAt !== "number") {
        return this.#toSession(r)!; // throws CorruptRecordError naming the record
      }
      return { sessionId, createdAt, updatedAt };
    });
  }

  /** One transaction: checks, puts the runs, bumps the version. */
  protected override async doAppendRuns(
    sessionId: string,
    runs: JsonObject[],
    context: AppendContext,
  ): Promise<AppendRunsResult> {
    return await this.#transact("readwrite", async (sessions, runStore) => {
      const record = this.#liveRecord(await settle(sessions.get(sessionId)), context.liveAfter);
      if (!record) throw new SessionNotFoundError(sessionId, { backend: this.backend });
      const session = this.#toSession(record)!;
      checkWrite(sessionId, session, context.userId, context.expectedVersion);
      const start = Number(record.runCount ?? 0);
      const version = session.version + 1;
      const runCount = start + runs.length;
      await Promise.all([
        ...runs.map((run, i) =>
          settle(runStore.put({ sessionId, seq: start + i + 1, createdAt: context.now, run: JSON.stringify(run) }))
        ),
        settle(sessions.put({ ...record, updatedAt: context.now, version, runCount })),
      ]);
      return { version, runCount };
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

  /** One transaction for the whole import; its reads, then its writes, issued together. */
  protected override async doImport(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: "skip" | "overwrite" | "fail",
    liveAfter: number | null,
  ): Promise<ImportResult> {
    return await this.#transact("readwrite", async (sessions, runs) => {
      const stored = await Promise.all(entries.map((e) => settle(sessions.get(e.session.sessionId))));
      const existing = stored.map((record) => this.#liveRecord(record, liveAfter));
      const clash = existing.findIndex((record) => record !== null);
      if (clash >= 0 && onConflict === "fail") {
        const id = entries[clash]!.session.sessionId;
        throw new ConflictError(id, 0, Number(existing[clash]!.version), { backend: this.backend });
      }
      const writes: Promise<unknown>[] = [];
      let imported = 0;
      for (const [i, { session, runs: log }] of entries.entries()) {
        if (existing[i] && onConflict === "skip") continue;
        if (stored[i] !== undefined) writes.push(this.#clearRuns(runs, session.sessionId));
        for (const r of log) {
          writes.push(settle(runs.put({ sessionId: session.sessionId, ...r, run: JSON.stringify(r.run) })));
        }
        writes.push(settle(sessions.put(this.#toRecord(session, log.length))));
        imported++;
      }
      await Promise.all(writes);
      return { imported, skipped: entries.length - imported };
    });
  }

  /** One transaction: walks the `updated` index up to `liveAfter`, deleting sessions and their runs. */
  protected async doPurge(liveAfter: number): Promise<number> {
    return await this.#transact("readwrite", async (sessions, runs) => {
      const expired = await new Promise<string[]>((resolve, reject) => {
        const ids: string[] = [];
        const request = sessions.index("updated").openCursor(this.#range([-MAX_NUMBER], [liveAfter, [Infinity]]));
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const cursor = request.result;
          if (!cursor) return resolve(ids);
          ids.push(String(cursor.value.sessionId));
          cursor.continue();
        };
      });
      for (const id of expired) {
        await settle(sessions.delete(id));
        await this.#clearRuns(runs, id);
      }
      return expired.length;
    });
  }

  /** Deletes this mode's stores with a version upgrade; other modes' stores stay. */
  protected async doDrop(): Promise<void> {
    this.#db?.close();
    this.#db = null;
    const stores = [this.#sessions, this.#runs];
    const db = await this.#openUntil(
      (db) => !stores.some((name) => db.objectStoreNames.contains(name)),
      (db) => {
        for (const name of stores) if (db.objectStoreNames.contains(name)) db.deleteObjectStore(name);
      },
    );
    db.close();
  }

  /** Closes the connection. */
  protected doClose(): Promise<void> {
    this.#db?.close();
    this.#db = null;
    return Promise.resolve();
  }
}
