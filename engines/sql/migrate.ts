/**
 * How the SQL engine brings a table to its layout version: each missing
 * migration in one batch that first claims its version, so concurrent
 * processes apply it once.
 *
 * @module
 */
import type { SessionMode } from "../../session/types.ts";
import { bindStatement, type SqlDialect } from "./dialect.ts";
import { type SqlExecutor, SqlRefusedError, type SqlStep } from "./executor.ts";

/** Applies the dialect's migrations from the recorded version up to `target`. */
export async function migrate(
  executor: SqlExecutor,
  dialect: SqlDialect,
  mode: SessionMode,
  options: { target: number; now: () => number; version: () => Promise<number> },
): Promise<void> {
  const { schema, table } = dialect;
  for (let from = await options.version(); from < options.target; from = await options.version()) {
    const to = from + 1;
    const claim = from === 0 ? schema.claimFirst : schema.claimNext;
    const steps: SqlStep[] = [
      {
        ...bindStatement(dialect, { sql: claim, args: { table, mode, to, from, now: options.now() } }),
        mustChange: true,
      },
      ...dialect.migrations[to]!.map((sql) => bindStatement(dialect, { sql, args: {} })),
    ];
    try {
      await executor.batch(steps);
    } catch (error) {
      // Another process migrated first: the loop re-reads the version.
      if (!(error instanceof SqlRefusedError)) throw error;
    }
  }
}
