/**
 * {@linkcode LibsqlStorage}: sessions in a libSQL/SQLite table, embedded
 * (`:memory:`, `file:`) or remote (`libsql:`, `http(s):`, `ws(s):`).
 *
 * The storage is the SQL engine (engines/sql/) with the SQLite dialect and an
 * executor over a driver, imported on first use: the `libsql` package with
 * reused prepared statements for embedded files and `:memory:`;
 * `@libsql/client/web` for remote URLs (no native code); `@libsql/client`
 * for a `client` the caller made.
 *
 * @module
 */
import type { Client } from "@libsql/client";
import { SqlEngine } from "../engines/sql/engine.ts";
import type { SqlExecutor } from "../engines/sql/executor.ts";
import { SQLITE_OPS_TABLE, SQLITE_SCHEMA_TABLE, sqliteDialect } from "../engines/sql/sqlite.ts";
import { BaseSessionStorage } from "../session/base.ts";
import { ValidationError } from "../session/errors.ts";
import { toListQuery } from "../session/list.ts";
import type { BaseStorageOptions, ListOptions, SessionMode, StorageCapabilities } from "../session/types.ts";
import { LibsqlClientExecutor } from "./libsql/client_executor.ts";
import { filePath, openNative, openNativeReadOnly } from "./libsql/native_executor.ts";

/**
 * The part of `@libsql/client`'s `Client` this storage uses. Pass a real
 * `Client` (from `createClient`); this type only keeps the driver's types out
 * of this package's API.
 */
export interface LibsqlClientLike {
  /** Runs one statement. */
  execute(statement: string | { sql: string; args?: unknown }): Promise<unknown>;
  /** Runs statements in one transaction. */
  batch(statements: unknown[], mode?: "write" | "read" | "deferred"): Promise<unknown[]>;
  /** Closes the client. */
  close(): void;
}

/** Options of {@linkcode LibsqlStorage}. */
export interface LibsqlStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /**
   * Database URL: `":memory:"`, `"file:path.db"`, `"libsql://…"`, `"http(s)://…"` or `"ws(s)://…"`.
   * Ignored when `client` is given.
   * @default {":memory:"}
   */
  url?: string;
  /** Token for remote databases. */
  authToken?: string;
  /**
   * Table name, a plain SQL identifier (letters, digits, `_`).
   * @default {"<mode>_sessions"}
   */
  table?: string;
  /** A `@libsql/client` client made by the caller; `close()` then leaves it open. */
  client?: LibsqlClientLike;
  /**
   * How long a write waits for a locked file database before failing, in ms.
   * @default {5000}
   */
  busyTimeoutMs?: number;
  /** Use `@libsql/client/web` (HTTP only, no native code) even for URLs the native client could open. */
  web?: boolean;
  /**
   * Opens an existing database for reading only: a `file:` database is opened
   * read-only (nothing created, no WAL switch, so a read-only file or medium
   * works), and every write is refused with a `StorageError`.
   * @default {false}
   */
  readOnly?: boolean;
}

/** The layout version this code writes; older tables are migrated by `create()`. */
export const LIBSQL_SCHEMA_VERSION = 4;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const OPTION_KEYS = ["url", "authToken", "table", "client", "busyTimeoutMs", "web", "readOnly"] as const;

function isRemoteUrl(url: string): boolean {
  return /^(libsql|https?|wss?):/i.test(url);
}

function checkTable(table: unknown): string {
  if (typeof table !== "string" || !IDENTIFIER.test(table) || table.toLowerCase().startsWith("sqlite_")) {
    throw new ValidationError([{
      path: ["table"],
      message: "expected a plain identifier: a letter or _, then letters, digits or _ (at most 63), not sqlite_*",
    }]);
  }
  if (table === SQLITE_SCHEMA_TABLE || table === SQLITE_OPS_TABLE) {
    throw new ValidationError([{ path: ["table"], message: `"${table}" is reserved` }]);
  }
  return table;
}

/** Whether the options open `url` on the `libsql` package (an embedded file or `:memory:`, writable). */
function isNative(options: LibsqlStorageOptions<SessionMode>, url: string): boolean {
  const web = options.web ?? isRemoteUrl(url);
  return options.client === undefined && !web && options.readOnly !== true &&
    (url.startsWith("file:") || url === ":memory:");
}

/** Opens the executor the options ask for. */
async function openExecutor(options: LibsqlStorageOptions<SessionMode>, url: string): Promise<SqlExecutor> {
  if (options.client) return new LibsqlClientExecutor(options.client as Client, false);
  const file = url.startsWith("file:");
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const web = options.web ?? isRemoteUrl(url);
  if (file && options.readOnly) return await openNativeReadOnly(filePath(url), busyTimeoutMs);
  if (file) await createPrivateFile(url);
  if (isNative(options, url)) return await openNative(file ? filePath(url) : url, busyTimeoutMs);
  const driver = web ? await import("@libsql/client/web") : await import("@libsql/client");
  const client = driver.createClient({
    url,
    authToken: options.authToken,
    timeout: busyTimeoutMs,
    intMode: "number",
    // One connection, so the per-connection pragmas below hold for every statement.
    ...(file ? { concurrency: 1 } : {}),
  });
  if (file) {
    // WAL lets readers run beside a writer; synchronous=NORMAL is durable against
    // process crashes (a power loss may drop the last commits) and far faster.
    await client.execute("PRAGMA journal_mode = WAL");
    await client.execute("PRAGMA synchronous = NORMAL");
  }
  return new LibsqlClientExecutor(client, true);
}

/**
 * Keeps sessions of one mode in one libSQL table with real columns for every
 * filter and sort field, JSON text for the rest, and an index for every
 * listing path. Every write is one atomic statement (or one transaction for
 * `upsertMany`), so `expectedVersion` holds across processes. Over a network
 * every write carries an operation id, so a request re-sent after a lost
 * reply returns the first result instead of running twice.
 *
 * @typeParam M The mode of the sessions held.
 *
 * @example An embedded file database
 * ```ts ignore
 * import { LibsqlStorage } from "@agentstate/storage";
 * await using storage = new LibsqlStorage({ mode: "agent", url: "file:sessions.db" });
 * const saved = await storage.upsert({ sessionId: "chat-1", userId: "ada", memory: { turns: [] } });
 * await storage.upsert({ ...saved, memory: { turns: ["hi"] } }, { expectedVersion: saved.version });
 * ```
 */
export class LibsqlStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
  /** Batches run in one transaction; files and servers give cross-process OCC. */
  readonly capabilities: StorageCapabilities;
  /** The table holding this storage's sessions. */
  readonly table: string;
  #engine: SqlEngine<M>;

  /** Checks the options; connects on first use. */
  constructor(options?: LibsqlStorageOptions<M>) {
    let engine: SqlEngine<M> | undefined;
    super("libsql", options, OPTION_KEYS, (mode) => {
      const url = options?.url ?? ":memory:";
      if (typeof url !== "string") throw new ValidationError([{ path: ["url"], message: "expected a string" }]);
      const table = checkTable(options?.table ?? `${mode}_sessions`);
      const remote = options?.client === undefined && (options?.web === true || isRemoteUrl(url));
      engine = new SqlEngine(mode, sqliteDialect(table, mode), () => openExecutor(options ?? {}, url), {
        schemaVersion: LIBSQL_SCHEMA_VERSION,
        clock: options?.clock ?? Date.now,
        idempotent: remote,
        readOnly: options?.readOnly === true,
        local: isNative(options ?? {}, url),
      });
      return engine;
    });
    this.#engine = engine!;
    this.table = options?.table ?? `${this.mode}_sessions`;
    const persistent = options?.client !== undefined || (options?.url ?? ":memory:") !== ":memory:";
    this.capabilities = { atomicBatch: true, crossProcessOcc: persistent, persistent };
  }

  /** The schema version recorded for this table (`0`: not created). */
  async schemaVersion(): Promise<number> {
    return await this.#engine.schemaVersion();
  }

  /**
   * SQLite's query plan for a `listSessions` call, one line per step: shows
   * which index serves a listing (no line should say `TEMP B-TREE`).
   */
  async explainList(options?: ListOptions): Promise<string[]> {
    await this.create();
    return await this.#engine.explainList(toListQuery(options, this.liveAfter(this.clock())));
  }
}

/**
 * Creates a missing database file readable by its owner only (0600), before
 * SQLite creates it with the process umask; SQLite gives its WAL and shared
 * memory files the same permissions. An existing file is left as it is.
 */
async function createPrivateFile(url: string): Promise<void> {
  const path = filePath(url);
  if (path === "" || path === ":memory:") return;
  const fs = await import("node:fs/promises");
  const handle = await fs.open(path, "a", 0o600);
  await handle.close();
}
