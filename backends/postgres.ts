/**
 * {@linkcode PostgresStorage}: sessions in a PostgreSQL table, through the
 * `pg` driver (a pool it makes from a URL, or one the caller made).
 *
 * The storage is the SQL engine (engines/sql/) with the PostgreSQL dialect
 * and an executor over a `pg` pool; the driver is imported on first use.
 *
 * @module
 */
import type { Pool } from "pg";
import { SqlEngine } from "../engines/sql/engine.ts";
import { bindStatement } from "../engines/sql/dialect.ts";
import { POSTGRES_SCHEMA_TABLE, POSTGRES_SCHEMA_VERSION, postgresDialect } from "../engines/sql/postgres.ts";
import { BaseSessionStorage } from "../session/base.ts";
import { ValidationError } from "../session/errors.ts";
import { toListQuery } from "../session/list.ts";
import type {
  BaseStorageOptions,
  JsonObject,
  ListOptions,
  SessionMode,
  StorageCapabilities,
} from "../session/types.ts";
import { PostgresExecutor } from "./postgres/executor.ts";

/**
 * The part of a `pg` `Pool` this storage uses. Pass a real `Pool`; this type
 * only keeps the driver's types out of this package's API.
 */
export interface PostgresPoolLike {
  /** Checks out a connection. */
  connect(): Promise<unknown>;
  /** Runs one statement on any connection. */
  query(...args: never[]): Promise<unknown>;
  /** Ends the pool. */
  end(): Promise<void>;
}

/** Options of {@linkcode PostgresStorage}. */
export interface PostgresStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** Connection URL, `postgres://user:password@host:port/database`. Ignored when `pool` is given. */
  url?: string;
  /** A `pg` `Pool` made by the caller; `close()` then leaves it open. */
  pool?: PostgresPoolLike;
  /**
   * The schema holding the tables, a plain identifier; created when missing.
   * @default {"public"}
   */
  schema?: string;
  /**
   * Table name, a plain identifier (letters, digits, `_`).
   * @default {"<mode>_sessions"}
   */
  table?: string;
  /**
   * Connections in the pool this storage makes (not for a caller's `pool`).
   * @default {10}
   */
  poolSize?: number;
  /**
   * The server cancels a statement running longer than this, in ms (not for a caller's `pool`).
   * @default {30000}
   */
  statementTimeoutMs?: number;
  /**
   * How long to wait for a connection, in ms (not for a caller's `pool`).
   * @default {10000}
   */
  connectTimeoutMs?: number;
}

/** The layout version this code writes. */
export { POSTGRES_SCHEMA_VERSION };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const OPTION_KEYS = ["url", "pool", "schema", "table", "poolSize", "statementTimeoutMs", "connectTimeoutMs"] as const;

function identifier(value: unknown, path: string): string {
  if (typeof value !== "string" || !IDENTIFIER.test(value) || value.toLowerCase().startsWith("pg_")) {
    throw new ValidationError([{
      path: [path],
      message: "expected a plain identifier: a letter or _, then letters, digits or _ (at most 63), not pg_*",
    }]);
  }
  return value;
}

function positive(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError([{ path: [path], message: "expected a positive integer" }]);
  }
  return value;
}

/**
 * Keeps sessions of one mode in one PostgreSQL table with real columns for
 * every filter and sort field (ids as UTF-8 bytes, so they order by code
 * point), JSON text for the rest, an index for every listing path, and the
 * run log in a second table that goes with its session. Every write is one
 * statement holding its version and owner rule (or one transaction for
 * `upsertMany`, appends and imports); migrations run once under an advisory lock.
 *
 * @typeParam M The mode of the sessions held.
 * @typeParam Memory What `memory` holds; `Data` what `sessionData` holds; `Run` what a run holds (JSON objects unless given).
 *
 * @example
 * ```ts ignore
 * import { PostgresStorage } from "@agentstate/storage/postgres";
 * await using storage = new PostgresStorage({ mode: "agent", url: "postgres://app:secret@127.0.0.1/app" });
 * const saved = await storage.upsert({ sessionId: "chat-1", userId: "ada", memory: { turns: [] } });
 * await storage.upsert({ ...saved, memory: { turns: ["hi"] } }, { expectedVersion: saved.version });
 * ```
 */
export class PostgresStorage<M extends SessionMode = "agent", Memory = JsonObject, Data = JsonObject, Run = JsonObject>
  extends BaseSessionStorage<M, Memory, Data, Run> {
  /** Batches run in one transaction; the server gives cross-process OCC. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: true, persistent: true };
  /** The schema holding the tables. */
  readonly schema: string;
  /** The table holding this storage's sessions. */
  readonly table: string;
  #engine: SqlEngine<M>;

  /** Checks the options; connects on first use. */
  constructor(options?: PostgresStorageOptions<M>) {
    let engine: SqlEngine<M> | undefined;
    let names: [string, string] | undefined;
    super("postgres", options, OPTION_KEYS, (mode) => {
      const schema = identifier(options?.schema ?? "public", "schema");
      const table = identifier(options?.table ?? `${mode}_sessions`, "table");
      if (table === POSTGRES_SCHEMA_TABLE) throw new ValidationError([{ path: ["table"], message: "is reserved" }]);
      if (options?.pool === undefined && typeof options?.url !== "string") {
        throw new ValidationError([{ path: ["url"], message: "expected a postgres:// URL (or give a pool)" }]);
      }
      const poolSize = positive(options?.poolSize, "poolSize", 10);
      const statementTimeoutMs = positive(options?.statementTimeoutMs, "statementTimeoutMs", 30_000);
      const connectTimeoutMs = positive(options?.connectTimeoutMs, "connectTimeoutMs", 10_000);
      names = [schema, table];
      const open = async () => {
        const { default: pg } = await import("pg");
        if (options?.pool) return new PostgresExecutor(options.pool as Pool, false, pg.types);
        const pool = new pg.Pool({
          connectionString: options!.url,
          max: poolSize,
          statement_timeout: statementTimeoutMs,
          connectionTimeoutMillis: connectTimeoutMs,
        });
        // An idle connection the server dropped is reported here and replaced; the next query reports its own error.
        pool.on("error", () => {});
        return new PostgresExecutor(pool, true, pg.types);
      };
      engine = new SqlEngine(mode, postgresDialect(schema, table, mode), open, {
        schemaVersion: POSTGRES_SCHEMA_VERSION,
        clock: options?.clock ?? Date.now,
        idempotent: false,
        readOnly: false,
        local: false,
      });
      return engine;
    });
    this.#engine = engine!;
    [this.schema, this.table] = names!;
  }

  /** The schema version recorded for this table (`0`: not created). */
  async schemaVersion(): Promise<number> {
    return await this.#engine.schemaVersion();
  }

  /** PostgreSQL's plan for a `listSessions` call (`EXPLAIN`), one line per step. */
  async explainList(options?: ListOptions): Promise<string[]> {
    await this.create();
    const dialect = postgresDialect(this.schema, this.table, this.mode);
    const statement = dialect.explain(dialect.list(toListQuery(options, this.liveAfter(this.clock())), false));
    const executor = await this.#engine.executor();
    const result = await executor.query(bindStatement(dialect, statement));
    return result.rows.map((row) => String(row["QUERY PLAN"]));
  }
}
