/**
 * An {@linkcode SqlExecutor} over the `libsql` package (the native SQLite
 * driver `@libsql/client` itself loads), with prepared statements kept in a
 * bounded cache and released on `close()`. It opens files read-only.
 *
 * @module
 */
import type DatabaseType from "libsql";
import {
  type SqlExecutor,
  type SqlQueryable,
  SqlRefusedError,
  type SqlResult,
  type SqlRow,
  type SqlStatement,
  type SqlStep,
} from "../../engines/sql/executor.ts";

type Database = InstanceType<typeof DatabaseType>;
type Statement = ReturnType<Database["prepare"]>;

/** How many prepared statements a connection keeps. */
export const STATEMENT_CACHE_SIZE = 64;

const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

/** The file path of a `file:` URL. */
export function filePath(url: string): string {
  return decodeURIComponent(url.replace(/^file:(\/\/(?=\/))?/, "").replace(/[?#].*$/, ""));
}

/**
 * Opens `path` read-only: nothing is created and the journal mode is left as
 * it is. A WAL database on read-only media (where SQLite cannot create its
 * shared-memory file) is opened as immutable, since nothing can change it there.
 */
export async function openNativeReadOnly(path: string, busyTimeoutMs: number): Promise<NativeExecutor> {
  const { default: Database } = await import("libsql");
  const uri = `file:${encodeURI(path).replace(/[?#]/g, encodeURIComponent)}?mode=ro`;
  let db: Database | null = null;
  try {
    db = new Database(uri, { timeout: busyTimeoutMs });
    db.prepare("PRAGMA schema_version").get();
  } catch (error) {
    db?.close();
    if (!/unable to open/i.test(String(error))) throw error;
    db = new Database(`${uri}&immutable=1`, { timeout: busyTimeoutMs });
    db.prepare("PRAGMA schema_version").get();
  }
  return new NativeExecutor(db);
}

/**
 * Opens `path` (a file, or `:memory:`) for reading and writing: WAL, which lets
 * readers run beside a writer, and `synchronous = NORMAL`, durable against
 * process crashes (a power loss may drop the last commits) and far faster.
 */
export async function openNative(path: string, busyTimeoutMs: number): Promise<NativeExecutor> {
  const { default: Database } = await import("libsql");
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    if (path !== ":memory:") {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
    }
  } catch (error) {
    db.close();
    throw error;
  }
  return new NativeExecutor(db);
}

/** Statements on one `libsql` connection, one caller at a time. */
export class NativeExecutor implements SqlExecutor {
  readonly #db: Database;
  readonly #statements = new Map<string, Statement>();
  /** Transactions hold the connection across awaits: everything else waits its turn. */
  #turn: Promise<unknown> = Promise.resolve();

  /** Takes ownership of `db`. */
  constructor(db: Database) {
    this.#db = db;
  }

  /** How many prepared statements are kept now (at most {@linkcode STATEMENT_CACHE_SIZE}). */
  get cachedStatements(): number {
    return this.#statements.size;
  }

  #prepare(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement) {
      this.#statements.delete(sql); // most recently used last
    } else {
      statement = this.#db.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        this.#statements.delete(this.#statements.keys().next().value!);
      }
    }
    this.#statements.set(sql, statement);
    return statement;
  }

  #run(statement: SqlStatement): SqlResult {
    const prepared = this.#prepare(statement.sql);
    if (!prepared.reader) return { rows: [], rowsAffected: Number(prepared.run(statement.args).changes) };
    const rows = prepared.all(statement.args) as Record<string, unknown>[];
    for (const row of rows) {
      for (const name in row) if (row[name] instanceof ArrayBuffer) row[name] = new Uint8Array(row[name]);
    }
    return { rows: rows as SqlRow[], rowsAffected: WRITES.test(statement.sql) ? rows.length : 0 };
  }

  #exclusive<T>(work: () => Promise<T> | T): Promise<T> {
    const result = this.#turn.then(work);
    this.#turn = result.catch(() => undefined);
    return result;
  }

  query(statement: SqlStatement): Promise<SqlResult> {
    return this.#exclusive(() => this.#run(statement));
  }

  batch(steps: SqlStep[]): Promise<SqlResult[]> {
    return this.#exclusive(() =>
      this.#inTransaction(() =>
        steps.map((step) => {
          const result = this.#run(step);
          if (step.mustChange && result.rowsAffected === 0) throw new SqlRefusedError();
          if (step.mustReturn && result.rows.length === 0) throw new SqlRefusedError();
          return result;
        })
      )
    );
  }

  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return this.#exclusive(() => this.#inTransaction(() => work({ query: (s) => Promise.resolve(this.#run(s)) })));
  }

  async #inTransaction<T>(work: () => Promise<T> | T): Promise<T> {
    this.#run({ sql: "BEGIN IMMEDIATE", args: [] });
    try {
      const result = await work();
      this.#run({ sql: "COMMIT", args: [] });
      return result;
    } catch (error) {
      if (this.#db.inTransaction) this.#run({ sql: "ROLLBACK", args: [] });
      throw error;
    }
  }

  close(): Promise<void> {
    return this.#exclusive(() => {
      this.#statements.clear();
      this.#db.close();
    });
  }
}
