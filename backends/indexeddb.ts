/**
 * {@linkcode IndexedDbStorage}: sessions in the browser's IndexedDB, for
 * offline agents and local-first apps whose data must not leave the device.
 *
 * A thin adapter: the session rules come from the key-value engine
 * (engines/kv.ts); backends/indexeddb/ supplies its store.
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
 * checks, the puts and the indexes happen together or not at all, and
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
import { KvEngine } from "../engines/kv.ts";
import { BaseSessionStorage } from "../session/base.ts";
import type { BaseStorageOptions, SessionMode, StorageCapabilities } from "../session/types.ts";
import { Connection } from "./indexeddb/connection.ts";
import type { IndexedDbFactory, KeyRangeStatic } from "./indexeddb/idb.ts";
import { IndexedDbKvStore } from "./indexeddb/store.ts";

export type { IndexedDbFactory, KeyRangeStatic } from "./indexeddb/idb.ts";

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

const OPTION_KEYS = ["dbName", "indexedDB", "keyRange", "blockedTimeoutMs"] as const;

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

  /** Checks the options; opens the database on first use. */
  constructor(options?: IndexedDbStorageOptions<M>) {
    const g = globalThis as unknown as { indexedDB?: IndexedDbFactory; IDBKeyRange?: KeyRangeStatic };
    const dbName = options?.dbName ?? "agentstate";
    const connection = {
      dbName,
      factory: options?.indexedDB ?? g.indexedDB,
      keyRange: options?.keyRange ?? g.IDBKeyRange,
      blockedTimeoutMs: options?.blockedTimeoutMs ?? 5000,
    };
    super(
      "indexeddb",
      options,
      OPTION_KEYS,
      (mode) => new KvEngine(new IndexedDbKvStore(mode, new Connection(mode, connection))),
    );
    this.dbName = dbName;
  }
}
