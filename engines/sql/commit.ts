/**
 * How the SQL engine commits a write: its statements in one batch and, for
 * drivers whose requests the network may re-send, an operation id claimed in
 * the same batch with the write's result, so a re-sent write returns the
 * first result instead of running twice.
 *
 * @module
 */
import { parseStoredJson } from "../../session/stored.ts";
import { bindStatement, type NamedStatement, type SqlDialect } from "./dialect.ts";
import { type SqlExecutor, SqlRefusedError, type SqlResult, type SqlStep } from "./executor.ts";
import { storedText } from "./rows.ts";

/** How long a write's operation id is kept for a re-sent request to find. */
export const OP_RETENTION_MS = 3_600_000;

/** One write: its statements, and how their results (or the recorded ones) become the return value. */
export interface SqlWrite<T> {
  /** The statements, run in order in one transaction. */
  steps: NamedStatement[];
  /** Indexes of the steps that must change a row, or the write is refused ({@linkcode SqlRefusedError}). */
  mustChange?: ReadonlySet<number>;
  /** Indexes of the steps (queries) that must return a row, or the write is refused. */
  mustReturn?: ReadonlySet<number>;
  /** Statements noting the result in the operation log, by the index of the step they follow. */
  notes?: ReadonlyMap<number, NamedStatement[]>;
  /** The result noted before any step runs. */
  initial?: unknown[];
  /** The return value from the steps' results (one per step). */
  decode(results: SqlResult[]): T;
  /** The return value from the noted result of a write that already ran. */
  replay(recorded: unknown[]): Promise<T> | T;
}

/**
 * Runs `write` (one statement alone, several as a batch). With `idempotent`,
 * the batch first claims a fresh operation id and notes its result: when the
 * batch fails because the claim exists (the request ran before and its reply
 * was lost), the recorded result is returned. Refusals roll the claim back.
 */
export async function commitWrite<T>(
  executor: SqlExecutor,
  dialect: SqlDialect,
  write: SqlWrite<T>,
  idempotent: boolean,
): Promise<T> {
  const op = idempotent ? crypto.randomUUID() : null;
  const ops = dialect.ops;
  const steps: SqlStep[] = [];
  const at: number[] = [];
  if (op !== null) {
    const now = Date.now();
    steps.push(
      bindStatement(dialect, { sql: ops.claim, args: { op, now, result: JSON.stringify(write.initial ?? []) } }),
    );
    steps.push(bindStatement(dialect, { sql: ops.prune, args: { before: now - OP_RETENTION_MS } }));
  }
  write.steps.forEach((statement, i) => {
    at.push(steps.length);
    steps.push({
      ...bindStatement(dialect, statement),
      mustChange: write.mustChange?.has(i) ?? false,
      mustReturn: write.mustReturn?.has(i) ?? false,
    });
    if (op === null) return;
    for (const note of write.notes?.get(i) ?? []) {
      steps.push(bindStatement(dialect, { sql: note.sql, args: { ...note.args, op } }));
    }
  });
  let results: SqlResult[];
  try {
    results = steps.length === 1 ? [await executor.query(steps[0]!)] : await executor.batch(steps);
  } catch (error) {
    if (op === null || error instanceof SqlRefusedError) throw error;
    let recorded: SqlResult;
    try {
      recorded = await executor.query(bindStatement(dialect, { sql: ops.read, args: { op } }));
    } catch {
      throw error; // the write's own failure says more than the failed look-up
    }
    if (recorded.rows.length === 0) throw error;
    const location = `operation ${op}`;
    const text = storedText(recorded.rows[0]!["result"], location, "result");
    return await write.replay(parseStoredJson(text, location, "a recorded result") as unknown[]);
  }
  return write.decode(at.map((i) => results[i]!));
}
