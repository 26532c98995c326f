/**
 * The run log of the JSON backend: `<name>.runs.ndjson`, one
 * `{ seq, key, digest, createdAt, run }` a line (`key` and `digest` absent
 * in logs written before run keys: read as `null`). The session file's `runCount` says how
 * many lines count: lines after them are runs of an append whose writer
 * died before committing the session, and the next append cuts them off.
 * A log that is missing, cut short or garbled within its first `runCount`
 * lines is a `CorruptRecordError` naming the file and line, never fewer runs.
 *
 * @module
 */
import { CorruptRecordError } from "../../session/errors.ts";
import { parseStoredObject } from "../../session/stored.ts";
import type { StoredRun } from "../../session/driver.ts";
import { openNoFollow, readRest, writeAll } from "./files.ts";

/** One line per run. */
export function renderRuns(runs: StoredRun[]): string {
  return runs.map((r) => JSON.stringify(r) + "\n").join("");
}

/** The first `runCount` runs of the log at `path` and the byte offset where they end. */
async function readCommitted(
  path: string,
  runCount: number,
  file: Deno.FsFile | null,
  size: number,
): Promise<{ runs: StoredRun[]; end: number }> {
  if (runCount === 0) return { runs: [], end: 0 };
  if (file === null) throw new CorruptRecordError(path, `run log is missing, runCount says ${runCount}`);
  const bytes = await readRest(file, size);
  const runs: StoredRun[] = [];
  let start = 0;
  while (runs.length < runCount) {
    const end = bytes.indexOf(10, start);
    if (end < 0) {
      throw new CorruptRecordError(path, `run log holds ${runs.length} complete runs, runCount says ${runCount}`);
    }
    const line = runs.length + 1;
    const location = `${path}:${line}`;
    const record = parseStoredObject(new TextDecoder().decode(bytes.subarray(start, end)), location, "a run record");
    const { seq, createdAt, run } = record;
    if (seq !== line) {
      throw new CorruptRecordError(location, `run record has seq ${JSON.stringify(seq)}, expected ${line}`);
    }
    if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt)) {
      throw new CorruptRecordError(location, "run record has no createdAt");
    }
    if (run === null || typeof run !== "object" || Array.isArray(run)) {
      throw new CorruptRecordError(location, "run record's run is not a JSON object");
    }
    const key = record.key ?? null;
    const digest = record.digest ?? null;
    if ((key !== null && typeof key !== "string") || (digest !== null && typeof digest !== "string")) {
      throw new CorruptRecordError(location, "run record's key or digest is not a string");
    }
    runs.push({ seq, key, digest, createdAt, run } as StoredRun);
    start = end + 1;
  }
  return { runs, end: start };
}

/** The `runCount` committed runs of the log at `path` (a symbolic link is refused). */
export async function readRuns(path: string, runCount: number): Promise<StoredRun[]> {
  if (runCount === 0) return [];
  const opened = await openNoFollow(path, {});
  try {
    return (await readCommitted(path, runCount, opened?.file ?? null, opened?.info.size ?? 0)).runs;
  } finally {
    opened?.file.close();
  }
}

/**
 * Appends `runs` after the `runCount` committed ones: lines of an
 * uncommitted append are cut off first; every byte is written and fsynced
 * before the session is committed with the new count.
 */
export async function appendRuns(path: string, runCount: number, runs: StoredRun[]): Promise<void> {
  const opened = await openNoFollow(path, { write: true, create: runCount === 0 });
  if (opened === null) throw new CorruptRecordError(path, `run log is missing, runCount says ${runCount}`);
  const { file, info } = opened;
  try {
    const { end } = await readCommitted(path, runCount, file, info.size);
    if (info.size !== end) await file.truncate(end);
    await file.seek(end, Deno.SeekMode.Start);
    await writeAll(file, new TextEncoder().encode(renderRuns(runs)));
    await file.sync();
  } finally {
    file.close();
  }
}
