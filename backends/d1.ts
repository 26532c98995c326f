/**
 * {@linkcode D1Storage}: sessions in a Cloudflare D1 database, from a
 * Worker's binding. The storage is the SQL engine with the SQLite dialect
 * (the layout `LibsqlStorage` writes) and an executor over the binding;
 * every write is one statement or one D1 batch (a transaction).
 *
 * @module
 */
import { SqlEngine } from "../engines/sql/engine.ts";
import { SQLITE_OPS_TABLE, SQLITE_SCHEMA_TABLE, sqliteDialect } from "../engines/sql/sqlite.ts";
import { BaseSessionStorage } from "../session/base.ts";
import { ValidationError } from "../session/errors.ts";
import type { BaseStorageOptions, JsonObject, SessionMode, StorageCapabilities } from "../session/types.ts";
import { type D1DatabaseLike, D1Executor } from "./d1/executor.ts";

export type { D1DatabaseLike, D1PreparedStatementLike, D1ResultLike } from "./d1/executor.ts";

/** Options of {@linkcode D1Storage}. */
export interface D1StorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** The D1 binding (`env.DB` in a Worker). */
  database: D1DatabaseLike;
  /**
   * Table name, a plain SQL identifier (letters, digits, `_`).
   * @default {"<mode>_sessions"}
   */
  table?: string;
}

/** The layout version this code writes: the SQLite dialect's, as `LibsqlStorage` writes it. */
export const D1_SCHEMA_VERSION: number = sqliteDialect("sessions", "agent").migrations.length - 1;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const OPTION_KEYS = ["database", "table"] as const;

function checkTable(table: unknown): string {
  if (
    typeof table !== "string" || !IDENTIFIER.test(table) || /^(sqlite_|_cf_)/i.test(table) ||
    table === SQLITE_SCHEMA_TABLE || table === SQLITE_OPS_TABLE
  ) {
    throw new ValidationError([{
      path: ["table"],
      message:
        "expected a plain identifier (a letter or _, then letters, digits or _), not sqlite_*, _cf_* or reserved",
    }]);
  }
  return table;
}

/**
 * Keeps sessions of one mode in one D1 table, laid out as `LibsqlStorage`
 * lays out SQLite tables (real columns and an index for every listing path,
 * the run log beside it). `expectedVersion` holds across Worker isolates:
 * each write's rule is in its statement's `WHERE`.
 *
 * @typeParam M The mode of the sessions held.
 * @typeParam Memory What `memory` holds; `Data` what `sessionData` holds; `Run` what a run holds (JSON objects unless given).
 *
 * @example In a Worker
 * ```ts ignore
 * import { D1Storage } from "@agentstate/storage/d1";
 * export default {
 *   async fetch(request: Request, env: { DB: D1Database }) {
 *     const storage = new D1Storage({ mode: "agent", database: env.DB });
 *     const session = await storage.read(new URL(request.url).searchParams.get("id")!);
 *     return Response.json(session);
 *   },
 * };
 * ```
 */
export class D1Storage<M extends SessionMode = "agent", Memory = JsonObject, Data = JsonObject, Run = JsonObject>
  extends BaseSessionStorage<M, Memory, Data, Run> {
  /** Batches run in one transaction; the database is shared by every isolate. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: true, persistent: true };
  /** The table holding this storage's sessions. */
  readonly table: string;
  #engine: SqlEngine<M>;

  /** Checks the options; touches the database on first use. */
  constructor(options: D1StorageOptions<M>) {
    let engine: SqlEngine<M> | undefined;
    let table = "";
    super("d1", options, OPTION_KEYS, (mode) => {
      const database = options?.database;
      if (typeof database?.prepare !== "function" || typeof database.batch !== "function") {
        throw new ValidationError([{ path: ["database"], message: "expected a D1 binding (env.DB)" }]);
      }
      table = checkTable(options.table ?? `${mode}_sessions`);
      engine = new SqlEngine(mode, sqliteDialect(table, mode), () => Promise.resolve(new D1Executor(database)), {
        schemaVersion: D1_SCHEMA_VERSION,
        clock: options.clock ?? Date.now,
        idempotent: false,
        readOnly: false,
        local: false,
      });
      return engine;
    });
    this.#engine = engine!;
    this.table = table;
  }

  /** The schema version recorded for this table (`0`: not created). */
  async schemaVersion(): Promise<number> {
    return await this.#engine.schemaVersion();
  }
}
