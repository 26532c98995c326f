/**
 * The parts of the IndexedDB API the IndexedDB backend uses, typed
 * structurally (Deno's type library has no DOM), and the small helpers
 * around them: requests as promises, a cursor walk, transaction completion.
 *
 * @module
 */
import { promisifyRequest } from "idb-keyval";

/** An IndexedDB key. */
export type Key = unknown;

/** An `IDBRequest`. */
export interface Request<T = unknown> {
  /** The result once it succeeded. */
  result: T;
  /** The error once it failed. */
  error: unknown;
  /** Success handler. */
  onsuccess: ((event: unknown) => void) | null;
  /** Error handler. */
  onerror: ((event: unknown) => void) | null;
}

/** An `IDBCursorWithValue` (or a key cursor, whose `value` is absent). */
export interface Cursor {
  /** The record under the cursor. */
  value: Record<string, unknown>;
  /** The record's primary key. */
  primaryKey: Key;
  /** Moves to the next record. */
  continue(): void;
}

/** An object store or an index: something a cursor walks. */
export interface Source {
  /** A cursor over records in `range`. */
  openCursor(range?: unknown, direction?: "next" | "prev"): Request<Cursor | null>;
  /** A cursor over keys only in `range`. */
  openKeyCursor(range?: unknown, direction?: "next" | "prev"): Request<Cursor | null>;
}

/** An `IDBObjectStore`. */
export interface Store extends Source {
  /** Reads one record. */
  get(key: Key): Request<Record<string, unknown> | undefined>;
  /** Inserts or replaces a record. */
  put(value: unknown): Request;
  /** Deletes a key or a key range. */
  delete(key: Key): Request;
  /** An index by name. */
  index(name: string): Source;
  /** The names of the store's indexes. */
  indexNames: { contains(name: string): boolean };
  /** Adds an index (in an upgrade). */
  createIndex(name: string, keyPath: string | string[]): unknown;
}

/** An `IDBTransaction`. */
export interface Transaction {
  /** A store of the transaction's scope. */
  objectStore(name: string): Store;
  /** Rolls the transaction back. */
  abort(): void;
  /** Completion handler. */
  oncomplete: ((event: unknown) => void) | null;
  /** Error handler. */
  onerror: ((event: unknown) => void) | null;
  /** Abort handler. */
  onabort: ((event: unknown) => void) | null;
  /** Why it failed. */
  error: unknown;
}

/** An `IDBDatabase`. */
export interface Database {
  /** The schema version. */
  version: number;
  /** The names of the object stores. */
  objectStoreNames: { contains(name: string): boolean };
  /** Starts a transaction over `stores`. */
  transaction(stores: string[], mode: "readonly" | "readwrite"): Transaction;
  /** Adds a store (in an upgrade). */
  createObjectStore(name: string, options: { keyPath: string | string[] }): Store;
  /** Removes a store (in an upgrade). */
  deleteObjectStore(name: string): void;
  /** Closes the connection. */
  close(): void;
  /** Called when another connection wants to upgrade or delete the database. */
  onversionchange: ((event: unknown) => void) | null;
}

/** The `IDBOpenDBRequest`. */
export interface OpenRequest extends Request<Database> {
  /** The upgrade transaction, during `onupgradeneeded`. */
  transaction: Transaction | null;
  /** Upgrade handler. */
  onupgradeneeded: ((event: unknown) => void) | null;
  /** Called while other connections keep the upgrade waiting. */
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

/** A key above every number. */
export const MAX_NUMBER = Number.MAX_VALUE;

/** A session id as its Unicode code points: IndexedDB compares strings by UTF-16 unit, every backend by code point. */
export function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const c of text) out.push(c.codePointAt(0)!);
  return out;
}

/** idb-keyval's `promisifyRequest`, typed for the structural types above (with or without the DOM library). */
export function settle<T>(request: Request<T>): Promise<T> {
  return promisifyRequest(request as unknown as Parameters<typeof promisifyRequest>[0]) as Promise<T>;
}

/**
 * How `tx` ends: `null` once it commits, `{ error }` once it aborts. It never
 * rejects, so nothing is left unhandled while the work is still running.
 */
export function outcome(tx: Transaction): Promise<{ error: unknown } | null> {
  return new Promise((resolve) => {
    tx.oncomplete = () => resolve(null);
    tx.onabort = () => resolve({ error: tx.error ?? new Error("transaction aborted") });
  });
}

/**
 * Walks the cursor `request` opens, calling `visit` on each position until
 * it returns `false` or the range ends; a throw from `visit` rejects.
 */
export function walk(request: Request<Cursor | null>, visit: (cursor: Cursor) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const cursor = request.result;
      if (!cursor) return resolve();
      try {
        if (visit(cursor)) cursor.continue();
        else resolve();
      } catch (error) {
        reject(error);
      }
    };
  });
}
