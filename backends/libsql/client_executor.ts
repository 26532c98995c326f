/**
 * An {@linkcode SqlExecutor} over `@libsql/client` (embedded files through its
 * native driver, remote databases over HTTP or WebSockets).
 *
 * @module
 */
import type { Client, InStatement, ResultSet } from "@libsql/client";
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

function toResult(result: ResultSet): SqlResult {
  const rows = result.rows.map((row) => {
    const out: SqlRow = {};
    result.columns.forEach((name, i) => {
      const value = row[i];
      out[name] = value instanceof ArrayBuffer
        ? new Uint8Array(value)
        : typeof value === "bigint"
        ? Number(value)
        : value as SqlRow[string];
    });
    return out;
  });
  return { rows, rowsAffected: result.rowsAffected };
}

function toStatement(statement: SqlStatement): InStatement {
  return { sql: statement.sql, args: statement.args };
}

/** Statements through a `@libsql/client` `Client`; a batch is one `client.batch` (one round trip). */
export class LibsqlClientExecutor implements SqlExecutor {
  readonly #client: Client;
  readonly #owned: boolean;

  /** `owned`: `close()` closes the client. */
  constructor(client: Client, owned: boolean) {
    this.#client = client;
    this.#owned = owned;
  }

  async query(statement: SqlStatement): Promise<SqlResult> {
    return toResult(await this.#client.execute(toStatement(statement)));
  }

  async batch(steps: SqlStep[]): Promise<SqlResult[]> {
    const { statements, at } = guardedBatch(steps);
    try {
      const results = await this.#client.batch(statements.map(toStatement), "write");
      return at.map((i) => toResult(results[i]!));
    } catch (error) {
      if (isGuardError(error)) throw new SqlRefusedError({ cause: error });
      throw error;
    }
  }

  async transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    const tx = await this.#client.transaction("write");
    try {
      const result = await work({ query: async (s) => toResult(await tx.execute(toStatement(s))) });
      await tx.commit();
      return result;
    } catch (error) {
      if (!tx.closed) await tx.rollback();
      throw error;
    } finally {
      tx.close();
    }
  }

  close(): Promise<void> {
    if (this.#owned) this.#client.close();
    return Promise.resolve();
  }
}
