/**
 * Guards for SQLite drivers that run a batch as one transaction but cannot
 * look at a statement's result in between (`@libsql/client` over HTTP,
 * Cloudflare D1): a statement after each guarded step fails the batch, and
 * so rolls it back, when that step changed or returned no row.
 *
 * @module
 */
import type { SqlStatement, SqlStep } from "./executor.ts";

/** Fails the batch when the statement before it changed no row. */
const CHANGED = "SELECT CASE WHEN changes() = 0 THEN json('agentstate write refused') END";

/**
 * The statements to send for `steps`: each step, followed by its guard when
 * it has one; `at[i]` is the index of step `i`'s own result.
 */
export function guardedBatch(steps: SqlStep[]): { statements: SqlStatement[]; at: number[] } {
  const statements: SqlStatement[] = [];
  const at: number[] = [];
  for (const step of steps) {
    at.push(statements.length);
    statements.push({ sql: step.sql, args: step.args });
    if (step.mustChange) statements.push({ sql: CHANGED, args: [] });
    // The step (a SELECT) runs again inside the guard, with the same arguments.
    if (step.mustReturn) {
      statements.push({
        sql: `SELECT CASE WHEN NOT EXISTS (${step.sql}) THEN json('agentstate write refused') END`,
        args: step.args,
      });
    }
  }
  return { statements, at };
}

/** Whether `error` (or a cause of it) is a guard of {@linkcode guardedBatch} failing the batch. */
export function isGuardError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (/malformed JSON/i.test(e.message)) return true;
  }
  return false;
}
