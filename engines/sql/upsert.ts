/**
 * Upserts on a local connection, where a second statement costs no round
 * trip: each session first tries the dialect's lean update (content columns,
 * `updated_at` and `version` only, so only the `updated_at` indexes are
 * written), and the full statement runs only when that changed nothing.
 *
 * @module
 */
import { bindStatement, type NamedArgs, type SqlDialect } from "./dialect.ts";
import { type SqlExecutor, SqlRefusedError } from "./executor.ts";

/**
 * Writes each session's `args` in one transaction: lean update, else `sql`
 * (the full upsert, insert or versioned update). Returns each session's
 * `[created_at, updated_at, version]`; a session both refuse throws
 * {@linkcode SqlRefusedError} and the transaction writes nothing.
 */
export function leanUpsert(
  executor: SqlExecutor,
  dialect: SqlDialect,
  sql: string,
  args: NamedArgs[],
  expected: number | null,
): Promise<unknown[][]> {
  return executor.transaction(async (tx) => {
    const stamps: unknown[][] = [];
    for (const a of args) {
      const bound = { ...a, expected };
      const lean = expected === 0
        ? undefined
        : (await tx.query(bindStatement(dialect, { sql: dialect.leanUpdate, args: bound }))).rows[0];
      const row = lean ?? (await tx.query(bindStatement(dialect, { sql, args: bound }))).rows[0];
      if (row === undefined) throw new SqlRefusedError();
      stamps.push([row["created_at"], row["updated_at"], row["version"]]);
    }
    return stamps;
  });
}
