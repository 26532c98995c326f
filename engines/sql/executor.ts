/**
 * The executor half of the SQL engine: how statements reach a database.
 * An executor knows its driver (a client library, a connection, prepared
 * statements) and nothing of sessions; the SQL it runs comes from a
 * {@linkcode SqlDialect} through the engine.
 *
 * @module
 */

/** A value bound to a placeholder or read from a column. */
export type SqlValue = string | number | null | Uint8Array;

/** One statement with its positional arguments (placeholders in the dialect's style). */
export interface SqlStatement {
  /** The SQL text. */
  sql: string;
  /** One value per placeholder, in order. */
  args: SqlValue[];
  /** The statement returns at most one row (it reads or writes by primary key): an executor may fetch just that row. */
  oneRow?: boolean;
}

/** A statement of a batch that must change at least one row, or the whole batch is refused. */
export interface SqlStep extends SqlStatement {
  /** When set and the statement changes no row, the batch rolls back and throws {@linkcode SqlRefusedError}. */
  mustChange?: boolean;
  /** When set and the statement (a `SELECT`) returns no row, the batch rolls back and throws {@linkcode SqlRefusedError}. */
  mustReturn?: boolean;
}

/** A row: column name to value (TEXT as `string`, BLOB as `Uint8Array`). */
export type SqlRow = Record<string, SqlValue>;

/** What one statement returned. */
export interface SqlResult {
  /** The rows, in order. */
  rows: SqlRow[];
  /** Rows inserted, updated or deleted by the statement itself (not by triggers). */
  rowsAffected: number;
}

/** Statements run one at a time on one connection. */
export interface SqlQueryable {
  /** Runs one statement. */
  query(statement: SqlStatement): Promise<SqlResult>;
}

/** Thrown by {@linkcode SqlExecutor.batch} when a guarded step changed or returned no row; nothing was written. */
export class SqlRefusedError extends Error {
  /** Creates the refusal. */
  constructor(options?: ErrorOptions) {
    super("batch refused: a guarded statement changed no row", options);
    this.name = "SqlRefusedError";
  }
}

/**
 * The primitives the SQL engine needs from a driver. An executor for a
 * driver with only batches (HTTP) and one with interactive transactions
 * (a local connection, PostgreSQL) both fit.
 */
export interface SqlExecutor extends SqlQueryable {
  /**
   * Runs `steps` in one write transaction (one round trip where the driver
   * can), all or nothing; a `mustChange` step that changes no row, or a
   * `mustReturn` step that returns none, rolls the
   * batch back and throws {@linkcode SqlRefusedError}.
   */
  batch(steps: SqlStep[]): Promise<SqlResult[]>;
  /** Runs `work` in one write transaction, committed when it resolves and rolled back when it throws. */
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  /** Releases the connection (or leaves a caller's client open). */
  close(): Promise<void>;
}
