/**
 * Upserts on a local connection, where a second statement costs no round
 * trip: each session first tries the dialect's lean update (content columns,
 * `updated_at` and `version` only, so only the `updated_at` indexes are
 * written), and the full statement runs only when that changed nothing.
 *
 * @module
 */
import { bindStatement, type NamedArgs, type SqlDialect } from "./dialect.ts";
import { type SqlExecutor, type SqlQueryable, SqlRefusedError } from "./executor.ts";

/**
 * Writes each session's `args` (several in one transaction): lean update, else `sql`
 * (the full upsert, insert or versioned update). Returns each session's
 * `[created_at, updated_at, version]`; a session both refuse throws
 * {@linkcode SqlRefusedError} and the transaction writes nothing.
 */
export async function leanUpsert(
  executor: SqlExecutor,
  dialect: SqlDialect,
  sql: string,
  args: NamedArgs[],
  expected: number | null,
): Promise<unknown[][]> {
  if (args.length === 1) return [await leanOne(executor, dialect, sql, { ...args[0], expected })];
  return await executor.transaction(async (tx) => {
    const stamps: unknown[][] = [];
    for (const a of args) stamps.push(await leanOne(tx, dialect, sql, { ...a, expected }));
    return stamps;
  });
}

/**
 * One session: the lean update, else the full statement, each atomic with its
 * own guard (so one session needs no transaction around them).
 */
async function leanOne(db: SqlQueryable, dialect: SqlDialect, sql: string, args: NamedArgs): Promise<unknown[]> {
  const lean = args.expected === 0
    ? undefined
    : (await db.query(bindStatement(dialect, { sql: dialect.leanUpdate, args }))).rows[0];
  const row = lean ?? (await db.query(bindStatement(dialect, { sql, args }))).rows[0];
  if (row === undefined) throw new SqlRefusedError();
  return [row["created_at"], row["updated_at"], row["version"]];
}
