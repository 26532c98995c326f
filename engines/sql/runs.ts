/**
 * The SQL engine's run-log writes, each one batch (one round trip) whose
 * guards hold the rules: a keyed append with its patch and create-if-missing,
 * a rewrite of the log's tail, and an import of sessions with their runs. A refused batch changed nothing; it is
 * explained from what is stored, by `checkWrite` and the key rule.
 *
 * @module
 */
import type { AppendContext, EditContext, ImportConflict, NewRun, RunEdit, StoredRun } from "../../session/driver.ts";
import { RunConflictError, SessionNotFoundError, StorageError } from "../../session/errors.ts";
import { checkWrite } from "../../session/stamp.ts";
import type { AppendRunsResult, SessionExport, SessionMode, SessionOf } from "../../session/types.ts";
import type { SqlWrite } from "./commit.ts";
import type { NamedArgs, NamedStatement, SqlDialect } from "./dialect.ts";
import type { SqlResult } from "./executor.ts";
import { patchArgs, sessionArgs } from "./rows.ts";
import type { SessionContent } from "../../session/parse.ts";

/** The `[[key, digest], …]` JSON of the keyed runs. */
function keysJson(runs: NewRun[]): string {
  return JSON.stringify(runs.filter((r) => r.key !== null).map((r) => [r.key, r.digest]));
}

function runInserts(d: SqlDialect, sessionId: string, runs: NewRun[], now: number): NamedStatement[] {
  return runs.map((r) => ({
    sql: d.appendRun,
    args: { id: sessionId, key: r.key, digest: r.digest, created: r.createdAt ?? now, run: JSON.stringify(r.run) },
  }));
}

/** The write's result, from the last statement or from the operation log. */
function resultOf(
  d: SqlDialect,
  sessionId: string,
  steps: NamedStatement[],
): Omit<SqlWrite<AppendRunsResult>, "steps"> {
  const last = steps.length;
  steps.push({ sql: d.appendResult, args: { id: sessionId } });
  return {
    notes: new Map([[last, [
      { sql: d.ops.noteStamps, args: { id: sessionId } },
      { sql: d.ops.noteRunCount, args: { id: sessionId } },
    ]]]),
    decode: (results: SqlResult[]) => {
      const row = results[last]!.rows[0]!;
      return { version: Number(row["version"]), runCount: Number(row["run_count"]) };
    },
    replay: (recorded: unknown[]) => ({
      version: Number((recorded[0] as unknown[])[2]),
      runCount: Number(recorded[1]),
    }),
  };
}

/**
 * One batch: create the session (version 0, bumped to 1 below) when asked
 * and absent or expired; refuse unless it is being created or is live,
 * owned and at the expected version; set the patch and bump the version
 * unless every run is a keyed replay; refuse when a key holds another run;
 * append the runs whose keys are not stored; read the version and count.
 */
export function appendWrite<M extends SessionMode>(
  d: SqlDialect,
  mode: M,
  sessionId: string,
  runs: NewRun[],
  context: AppendContext,
): SqlWrite<AppendRunsResult> {
  const { now, liveAfter: live, userId: user } = context;
  const expected = context.expectedVersion ?? null;
  const keys = keysJson(runs);
  const steps: NamedStatement[] = [];
  const mustReturn = new Set<number>();
  if (context.create !== undefined && (expected ?? 0) === 0) {
    const content = sessionArgs(mode, d.columns, context.create as SessionContent<M>);
    steps.push({ sql: d.createForAppend, args: { ...content, now, live } });
  }
  mustReturn.add(steps.length);
  steps.push({ sql: d.appendGuard, args: { id: sessionId, live, user, expected } });
  const patch = patchArgs(mode, d.columns, context.patch ?? {});
  const unkeyed = runs.some((r) => r.key === null);
  const bump: NamedArgs = { ...patch.args, id: sessionId, now, unkeyed, keys };
  steps.push({ sql: d.patchBump(patch.changed), args: bump });
  if (runs.some((r) => r.key !== null)) {
    mustReturn.add(steps.length);
    steps.push({ sql: d.keysFree, args: { id: sessionId, keys } });
  }
  steps.push(...runInserts(d, sessionId, runs, now));
  return { steps, mustReturn, ...resultOf(d, sessionId, steps) };
}

/**
 * One batch: bump the version where the session is live, owned and at
 * `context.expectedVersion` (refused otherwise); refuse when an added key is
 * held by a kept run; delete the runs after `keepThrough`; append the added
 * runs; read the version and count.
 */
export function editWrite(
  d: SqlDialect,
  sessionId: string,
  edit: RunEdit,
  context: EditContext,
): SqlWrite<AppendRunsResult> {
  const { now, liveAfter: live, userId: user, expectedVersion: expected } = context;
  const keep = edit.keepThrough;
  const steps: NamedStatement[] = [{ sql: d.bump, args: { id: sessionId, now, live, user, expected } }];
  const mustReturn = new Set<number>();
  if (edit.add.some((r) => r.key !== null)) {
    mustReturn.add(steps.length);
    steps.push({ sql: d.keysKept, args: { id: sessionId, keys: keysJson(edit.add), keep } });
  }
  steps.push({ sql: d.truncateRuns, args: { id: sessionId, keep } });
  steps.push(...runInserts(d, sessionId, edit.add, now));
  return { steps, mustChange: new Set([0]), mustReturn, ...resultOf(d, sessionId, steps) };
}

/**
 * The statements importing `entries` as they are: per session an import
 * statement that replaces only an expired row (or any row with
 * `"overwrite"`; otherwise it must change a row), its run log emptied, then
 * its runs with their keys and digests.
 */
export function importSteps<M extends SessionMode>(
  d: SqlDialect,
  mode: M,
  entries: SessionExport<SessionOf<M>, StoredRun>[],
  onConflict: ImportConflict,
  live: number | null,
): { steps: NamedStatement[]; mustChange: Set<number> } {
  const steps: NamedStatement[] = [];
  const mustChange = new Set<number>();
  for (const { session, runs } of entries) {
    if (onConflict !== "overwrite") mustChange.add(steps.length);
    const { createdAt: created, updatedAt: updated, version } = session;
    const content = sessionArgs(mode, d.columns, session as SessionContent<M>);
    steps.push({
      sql: d.importRow,
      args: { ...content, created, updated, version, overwrite: onConflict === "overwrite", live },
    });
    steps.push({ sql: d.clearRuns, args: { id: session.sessionId } });
    for (const r of runs) {
      steps.push({
        sql: d.importRun,
        args: {
          id: session.sessionId,
          seq: r.seq,
          key: r.key ?? null,
          digest: r.digest ?? null,
          created: r.createdAt,
          run: JSON.stringify(r.run),
        },
      });
    }
  }
  return { steps, mustChange };
}

/** What explaining a refused run-log write reads. */
export interface RunLookup {
  /** The live session, or `null`. */
  live(sessionId: string): Promise<{ userId: string | null; version: number } | null>;
  /** The run stored under `key`, whatever its session's owner. */
  runByKey(sessionId: string, key: string): Promise<StoredRun | null>;
}

/** Throws the error a refused append stands for, read from what is stored now. */
export async function explainAppend(
  sessionId: string,
  runs: NewRun[],
  context: AppendContext,
  lookup: RunLookup,
  refusal: Error,
): Promise<never> {
  const stored = await lookup.live(sessionId);
  if (stored === null && context.create === undefined) throw new SessionNotFoundError(sessionId);
  checkWrite(sessionId, stored, context.userId, context.expectedVersion);
  if (stored !== null) {
    for (const run of runs) {
      const held = run.key === null ? null : await lookup.runByKey(sessionId, run.key);
      if (held !== null && held.digest !== run.digest) {
        throw new RunConflictError(
          sessionId,
          stored.version,
          `key ${JSON.stringify(run.key)} holds another run`,
          run.key,
        );
      }
    }
  }
  throw new StorageError("the append was refused, but the session now allows it; retry", { cause: refusal });
}

/** Throws the error a refused edit stands for, read from what is stored now. */
export async function explainEdit(
  sessionId: string,
  edit: RunEdit,
  context: EditContext,
  lookup: RunLookup,
  refusal: Error,
): Promise<never> {
  const stored = await lookup.live(sessionId);
  if (stored === null) throw new SessionNotFoundError(sessionId);
  checkWrite(sessionId, stored, context.userId, context.expectedVersion);
  for (const run of edit.add) {
    const held = run.key === null ? null : await lookup.runByKey(sessionId, run.key);
    if (held !== null && held.seq <= edit.keepThrough) {
      throw new RunConflictError(
        sessionId,
        stored.version,
        `key ${JSON.stringify(run.key)} is held by run ${held.seq}`,
        run.key,
      );
    }
  }
  throw new StorageError("the edit was refused, but the session now allows it; retry", { cause: refusal });
}
