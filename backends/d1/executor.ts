/**
 * An {@linkcode SqlExecutor} over a Cloudflare D1 binding: a statement is
 * one `prepare().bind().all()`, a batch one `batch()` (D1 runs it as one
 * transaction), guarded like every batch-only SQLite driver. D1 has no
 * interactive transactions.
 *
 * @module
 */
import {
  type SqlExecutor,
  type SqlQueryable,
  SqlRefusedError,
  type SqlResult,
  type SqlRow,
  type SqlStatement,
  type SqlStep,
} from "../../engines/sql/executor.ts";
import { guardedBatch, isGuardError } from "../../engines/sql/sqlite_guards.ts";

/** A prepared D1 statement, as the binding returns it. */
export interface D1PreparedStatementLike {
  /** A copy with these values bound to the `?N` placeholders. */
  bind(...values: unknown[]): D1PreparedStatementLike;
  /** Runs the statement and returns its rows and metadata. */
  all(): Promise<D1ResultLike>;
}

/** What D1 returns for one statement. */
export interface D1ResultLike {
  /** The rows. */
  results?: Record<string, unknown>[];
  /** Metadata: `changes` is the number of rows written. */
  meta?: { changes?: number };
}

/**
 * The part of Cloudflare's `D1Database` binding this storage uses. Pass the
 * binding from your Worker's `env`; this type only keeps the Workers types
 * out of this package's API.
 */
export interface D1DatabaseLike {
  /** Prepares a statement. */
  prepare(sql: string): D1PreparedStatementLike;
  /** Runs prepared statements in order as one transaction. */
  batch(statements: D1PreparedStatementLike[]): Promise<D1ResultLike[]>;
}

/** A column value as the engine reads it: BLOBs (an array of bytes or an ArrayBuffer) as `Uint8Array`. */
function toValue(value: unknown): SqlRow[string] {
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return value as SqlRow[string];
}

function toRows(result: D1ResultLike): SqlRow[] {
  return (result.results ?? []).map((row) => {
    const out: SqlRow = {};
    for (const name in row) out[name] = toValue(row[name]);
    return out;
  });
}

const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

/**
 * Read after each write: D1's `meta.changes` also counts rows that triggers
 * changed (a session's runs), SQLite's `changes()` only the statement's own.
 */
const CHANGES: SqlStatement = { sql: "SELECT changes() AS changes", args: [] };

/** Statements through a D1 binding. */
export class D1Executor implements SqlExecutor {
  readonly #db: D1DatabaseLike;

  /** Runs on `db`. */
  constructor(db: D1DatabaseLike) {
    this.#db = db;
  }

  #prepare(statement: SqlStatement): D1PreparedStatementLike {
    const prepared = this.#db.prepare(statement.sql);
    return statement.args.length === 0 ? prepared : prepared.bind(...statement.args);
  }

  async query(statement: SqlStatement): Promise<SqlResult> {
    if (WRITES.test(statement.sql)) return (await this.batch([statement]))[0]!;
    return { rows: toRows(await this.#prepare(statement).all()), rowsAffected: 0 };
  }

  async batch(steps: SqlStep[]): Promise<SqlResult[]> {
    const guarded = guardedBatch(steps);
    const statements: SqlStatement[] = [];
    const at = guarded.at.map((first, i) => {
      const end = guarded.at[i + 1] ?? guarded.statements.length;
      const index = statements.push(guarded.statements[first]!) - 1;
      if (WRITES.test(steps[i]!.sql)) statements.push(CHANGES);
      statements.push(...guarded.statements.slice(first + 1, end));
      return index;
    });
    try {
      const results = await this.#db.batch(statements.map((s) => this.#prepare(s)));
      return at.map((i) => {
        const write = WRITES.test(statements[i]!.sql);
        const changes = write ? Number(toRows(results[i + 1]!)[0]?.["changes"] ?? 0) : 0;
        return { rows: toRows(results[i]!), rowsAffected: changes };
      });
    } catch (error) {
      if (isGuardError(error)) throw new SqlRefusedError({ cause: error });
      throw error;
    }
  }

  /** D1 runs no interactive transactions: refused (the SQL engine writes with {@linkcode batch}). */
  transaction<T>(_work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return Promise.reject(new Error("D1 has no interactive transactions; use batch()"));
  }

  /** The binding belongs to the Worker: nothing to close. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
