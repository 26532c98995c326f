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
/** A prepared statement, and whether it returns rows (asked once: the driver's answer is a native call). */
interface Prepared {
  statement: Statement;
  reader: boolean;
}

/** How many prepared statements a connection keeps. */
export const STATEMENT_CACHE_SIZE = 64;

const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

const statement = (sql: string): SqlStatement => ({ sql, args: [] });
const BEGIN = statement("BEGIN IMMEDIATE");
const COMMIT = statement("COMMIT");
const ROLLBACK = statement("ROLLBACK");
const SAVEPOINT = statement("SAVEPOINT agentstate_write");
const RELEASE = statement("RELEASE agentstate_write");
const ROLLBACK_TO = statement("ROLLBACK TO agentstate_write");

/** A write waiting for its group: what it runs, and its caller's promise. */
interface Unit {
  work: () => unknown;
  /** The statement, when the write is one statement (it then needs no transaction of its own). */
  single: SqlStatement | null;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

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
  readonly #statements = new Map<string, Prepared>();
  /** Transactions hold the connection across awaits: everything else waits its turn. */
  #turn: Promise<unknown> = Promise.resolve();
  /** Writes waiting for the end of this tick, to commit together. */
  #pending: Unit[] = [];
  #commits = 0;
  readonly #tx: SqlQueryable = { query: (statement) => Promise.resolve().then(() => this.#run(statement)) };

  /** Takes ownership of `db`. */
  constructor(db: Database) {
    this.#db = db;
  }

  /** How many prepared statements are kept now (at most {@linkcode STATEMENT_CACHE_SIZE}). */
  get cachedStatements(): number {
    return this.#statements.size;
  }

  #prepare(sql: string): Prepared {
    let prepared = this.#statements.get(sql);
    if (prepared) {
      this.#statements.delete(sql); // most recently used last
    } else {
      const statement = this.#db.prepare(sql);
      prepared = { statement, reader: statement.reader };
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        this.#statements.delete(this.#statements.keys().next().value!);
      }
    }
    this.#statements.set(sql, prepared);
    return prepared;
  }

  #run(statement: SqlStatement): SqlResult {
    const { statement: prepared, reader } = this.#prepare(statement.sql);
    if (!reader) return { rows: [], rowsAffected: Number(prepared.run(statement.args).changes) };
    let rows: Record<string, unknown>[];
    if (statement.oneRow) {
      // `get` steps once and resets: far cheaper than `all`'s row iterator for one row.
      const row = prepared.get(statement.args) as Record<string, unknown> | undefined;
      if (row !== undefined) delete row._metadata; // `get` adds the statement's timing to the row
      rows = row === undefined ? [] : [row];
    } else {
      rows = prepared.all(statement.args) as Record<string, unknown>[];
    }
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

  /** How many write transactions (groups included) this connection committed. */
  get commits(): number {
    return this.#commits;
  }

  /** A read runs in turn; a write joins the writes of this tick (see {@linkcode NativeExecutor.batch}). */
  query(statement: SqlStatement): Promise<SqlResult> {
    if (!WRITES.test(statement.sql)) return this.#exclusive(() => this.#run(statement));
    return this.#submit(() => this.#run(statement), statement);
  }

  /**
   * Joins the group of writes submitted in this tick: they run in one
   * `BEGIN IMMEDIATE … COMMIT`, each batch in its own savepoint (a single statement is atomic by itself), so a refused or
   * failing one is rolled back and fails alone; if the group's transaction
   * is lost, each write is run again alone.
   */
  batch(steps: SqlStep[]): Promise<SqlResult[]> {
    return this.#submit(() =>
      steps.map((step) => {
        const result = this.#run(step);
        if (step.mustChange && result.rowsAffected === 0) throw new SqlRefusedError();
        if (step.mustReturn && result.rows.length === 0) throw new SqlRefusedError();
        return result;
      })
    );
  }

  /** Like {@linkcode NativeExecutor.batch}: `work` joins this tick's group, in its own savepoint. */
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return this.#submit(() => work(this.#tx));
  }

  #submit<T>(work: () => Promise<T> | T, single: SqlStatement | null = null): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // The global setImmediate (Deno, Node.js, Bun): a static `node:timers` import would stop Workers and browsers
      // from loading the library at all, although this executor only ever runs where files are.
      if (this.#pending.length === 0) setImmediate(() => this.#flush());
      this.#pending.push({ work, single, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #flush(): void {
    const group = this.#pending;
    if (group.length === 0) return;
    this.#pending = [];
    void this.#exclusive(() => group.length === 1 ? this.#alone(group[0]!) : this.#together(group));
  }

  /** One write in its own transaction (a single statement commits by itself). */
  async #alone(unit: Unit): Promise<void> {
    try {
      const value = unit.single ? unit.work() : await this.#inTransaction(unit.work);
      this.#commits++;
      unit.resolve(value);
    } catch (error) {
      unit.reject(error);
    }
  }

  async #together(group: Unit[]): Promise<void> {
    try {
      this.#run(BEGIN);
    } catch (error) {
      for (const unit of group) unit.reject(error);
      return;
    }
    const outcomes: { value?: unknown; error?: unknown; failed: boolean }[] = [];
    try {
      for (const unit of group) {
        if (unit.single) {
          // One statement is atomic by itself: a failing one undoes only its own changes.
          try {
            outcomes.push({ value: unit.work(), failed: false });
          } catch (error) {
            if (!this.#db.inTransaction) throw error;
            outcomes.push({ error, failed: true });
          }
          continue;
        }
        this.#run(SAVEPOINT);
        try {
          outcomes.push({ value: await unit.work(), failed: false });
          this.#run(RELEASE);
        } catch (error) {
          if (!this.#db.inTransaction) throw error;
          this.#run(ROLLBACK_TO);
          this.#run(RELEASE);
          outcomes.push({ error, failed: true });
        }
      }
      this.#run(COMMIT);
      this.#commits++;
    } catch {
      // The group's transaction is lost: undo what is left of it, then run each write alone.
      try {
        if (this.#db.inTransaction) this.#run(ROLLBACK);
      } catch (error) {
        for (const unit of group) unit.reject(error);
        return;
      }
      for (const unit of group) await this.#alone(unit);
      return;
    }
    group.forEach((unit, i) =>
      outcomes[i]!.failed ? unit.reject(outcomes[i]!.error) : unit.resolve(outcomes[i]!.value)
    );
  }

  async #inTransaction<T>(work: () => Promise<T> | T): Promise<T> {
    this.#run(BEGIN);
    try {
      const result = await work();
      this.#run(COMMIT);
      return result;
    } catch (error) {
      if (this.#db.inTransaction) this.#run(ROLLBACK);
      throw error;
    }
  }

  /** Runs the writes still waiting for their tick, then closes the connection. */
  close(): Promise<void> {
    this.#flush();
    return this.#exclusive(() => {
      this.#statements.clear();
      this.#db.close();
    });
  }
}
