/**
 * The connection to an IndexedDB database holding one mode's two stores:
 * opening, adding missing stores and indexes by a version upgrade (retried
 * while other modes or tabs upgrade the same database), a timeout for an
 * upgrade blocked by a connection that never closes, and dropping the
 * mode's stores.
 *
 * @module
 */
import { StorageError } from "../../session/errors.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import type { SessionMode } from "../../session/types.ts";
import type { Database, IndexedDbFactory, KeyRangeStatic, OpenRequest, Transaction } from "./idb.ts";

const MAX_UPGRADE_ATTEMPTS = 20;

/** Index name prefix and the field in front of the time (`null`: none; `"entity"`: the mode's entity id). */
const INDEX_HEADS: [string, string | null][] = [
  ["", null],
  ["user_", "userId"],
  ["name_", "sessionName"],
  ["entity_", "entity"],
];

/** Where the connection goes and how long an upgrade may wait. */
export interface ConnectionOptions {
  /** The database name. */
  dbName: string;
  /** The factory, or `undefined` when the environment has none. */
  factory: IndexedDbFactory | undefined;
  /** The key range class, or `undefined` when the environment has none. */
  keyRange: KeyRangeStatic | undefined;
  /** How long to wait for other connections to close before an upgrade fails. */
  blockedTimeoutMs: number;
}

/** One mode's view of the database: its store names, indexes and a lazily opened connection. */
export class Connection {
  /** The session store's name, `<mode>_sessions`. */
  readonly sessions: string;
  /** The run store's name, `<mode>_runs`. */
  readonly runs: string;
  readonly #mode: SessionMode;
  readonly #options: ConnectionOptions;
  #db: Database | null = null;
  #opening: Promise<Database> | null = null;

  /** Names the stores of `mode`; opens nothing yet. */
  constructor(mode: SessionMode, options: ConnectionOptions) {
    this.#mode = mode;
    this.#options = options;
    this.sessions = `${mode}_sessions`;
    this.runs = `${mode}_runs`;
  }

  /** The database name. */
  get dbName(): string {
    return this.#options.dbName;
  }

  /** The factory (present once `database()` resolved). */
  get factory(): IndexedDbFactory {
    return this.#options.factory!;
  }

  /** A key range from `lower` to `upper`. */
  range(lower: unknown, upper: unknown, lowerOpen = false, upperOpen = false): unknown {
    return this.#options.keyRange!.bound(lower, upper, lowerOpen, upperOpen);
  }

  /** The open connection, opening (and upgrading) the database when needed. */
  async database(): Promise<Database> {
    if (this.#db) return this.#db;
    this.#opening ??= this.#openUntil(
      (db) => !this.#needsUpgrade(db),
      (db, tx) => this.#upgradeSchema(db, tx),
    ).then((db) => this.#db = db).finally(() => this.#opening = null);
    return await this.#opening;
  }

  /** Deletes this mode's stores with a version upgrade; other modes' stores stay. */
  async drop(): Promise<void> {
    this.close();
    const stores = [this.sessions, this.runs];
    const db = await this.#openUntil(
      (db) => !stores.some((name) => db.objectStoreNames.contains(name)),
      (db) => {
        for (const name of stores) if (db.objectStoreNames.contains(name)) db.deleteObjectStore(name);
      },
    );
    db.close();
  }

  /** Closes the connection (the next use reopens it). */
  close(): void {
    this.#db?.close();
    this.#db = null;
  }

  /** The session store's indexes: name and key path. */
  indexes(): [string, string[]][] {
    const out: [string, string[]][] = [];
    for (const [prefix, head] of INDEX_HEADS) {
      const field = head === "entity" ? MODE_FIELDS[this.#mode].entity : head;
      for (const [sort, time] of [["created", "createdAt"], ["updated", "updatedAt"]] as const) {
        out.push([`${prefix}${sort}`, field === null ? [time, "k"] : [field, time, "k"]]);
      }
    }
    return out;
  }

  /**
   * Opens the database at `version` (or the current one); `upgrade` runs in
   * `onupgradeneeded`. Other connections get `versionchange` and close; if
   * one does not within `blockedTimeoutMs`, the open fails (and its upgrade,
   * should it start later, is aborted).
   */
  #open(version: number | undefined, upgrade: (db: Database, tx: Transaction) => void): Promise<Database> {
    const { factory, keyRange, dbName, blockedTimeoutMs } = this.#options;
    if (!factory) {
      return Promise.reject(
        new StorageError("indexeddb: IndexedDB is not available here: no global indexedDB, and no indexedDB option"),
      );
    }
    if (!keyRange) {
      return Promise.reject(
        new StorageError("indexeddb: no global IDBKeyRange: pass the keyRange option that goes with indexedDB"),
      );
    }
    return new Promise<Database>((resolve, reject) => {
      let gaveUp = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const request = (version === undefined ? factory.open(dbName) : factory.open(dbName, version)) as OpenRequest;
      request.onblocked = () => {
        timer ??= setTimeout(() => {
          gaveUp = true;
          reject(
            new StorageError(`indexeddb: upgrading "${dbName}" is blocked by another connection that does not close`),
          );
        }, blockedTimeoutMs);
      };
      request.onupgradeneeded = () => {
        if (gaveUp) request.transaction!.abort();
        else upgrade(request.result, request.transaction!);
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
    if (!db.objectStoreNames.contains(this.sessions) || !db.objectStoreNames.contains(this.runs)) return true;
    const names = db.transaction([this.sessions], "readonly").objectStore(this.sessions).indexNames;
    return this.indexes().some(([name]) => !names.contains(name));
  }

  /** In `onupgradeneeded`: adds this mode's missing stores and indexes (an older layout gains its new indexes). */
  #upgradeSchema(db: Database, tx: Transaction): void {
    const store = db.objectStoreNames.contains(this.sessions)
      ? tx.objectStore(this.sessions)
      : db.createObjectStore(this.sessions, { keyPath: "sessionId" });
    for (const [name, keyPath] of this.indexes()) {
      if (!store.indexNames.contains(name)) store.createIndex(name, keyPath);
    }
    if (!db.objectStoreNames.contains(this.runs)) db.createObjectStore(this.runs, { keyPath: ["sessionId", "seq"] });
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
    throw new StorageError(`indexeddb: "${this.dbName}" kept being upgraded by other connections; try again`);
  }
}
