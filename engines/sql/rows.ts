/**
 * Sessions to arguments and rows back to sessions and runs: text arrives as bytes and is decoded
 * strictly, JSON goes through session/stored.ts, and a run page must hold
 * consecutive seqs; anything else is a `CorruptRecordError` naming the row.
 *
 * @module
 */
import { CorruptRecordError } from "../../session/errors.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import { parseStoredSession, type SessionContent } from "../../session/parse.ts";
import { parseStoredJson, parseStoredObject } from "../../session/stored.ts";
import type { StoredRun } from "../../session/driver.ts";
import type { SessionMode, SessionOf } from "../../session/types.ts";
import type { NamedArgs } from "./dialect.ts";
import type { SqlRow, SqlValue } from "./executor.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A text column's value: bytes decoded as strict UTF-8; other values as they are. */
export function storedText(value: SqlValue | undefined, location: string, column: string): unknown {
  if (!(value instanceof Uint8Array)) return value ?? null;
  try {
    return utf8.decode(value);
  } catch (error) {
    throw new CorruptRecordError(location, `column ${column} is not valid UTF-8`, { cause: error });
  }
}

/** Where a session row is, for error messages: its table and id. */
function rowLocation(table: string, sessionId: unknown): string {
  return `${table} row ${JSON.stringify(typeof sessionId === "string" ? sessionId : String(sessionId))}`;
}

/** A session row (columns in `MODE_FIELDS[mode].all` order, named by `columns`) as a checked session. */
export function rowToSession<M extends SessionMode>(
  mode: M,
  table: string,
  columns: readonly string[],
  row: SqlRow,
): SessionOf<M> {
  const fields = MODE_FIELDS[mode];
  const id = storedText(row[columns[0]!], `${table} row with an undecodable session_id`, columns[0]!);
  const location = rowLocation(table, id);
  const record: Record<string, unknown> = {};
  for (const [i, name] of fields.all.entries()) {
    const column = columns[i]!;
    const value = storedText(row[column], location, column);
    record[name] = fields.objects.includes(name) && value !== null
      ? parseStoredJson(value, `${location} column ${column}`, "the column")
      : value;
  }
  return parseStoredSession(mode, record, location);
}

/** A session's content as named arguments: one per column but the stamps, JSON fields as their text. */
export function sessionArgs<M extends SessionMode>(
  mode: M,
  columns: readonly string[],
  content: SessionContent<M>,
): NamedArgs {
  const fields = MODE_FIELDS[mode];
  const args: NamedArgs = {};
  for (const [i, name] of fields.all.entries()) {
    if (i >= fields.all.length - 3) break; // createdAt, updatedAt, version: set by the statement
    const value = (content as Record<string, unknown>)[name];
    args[columns[i]!] = fields.objects.includes(name)
      ? (value === null ? null : JSON.stringify(value))
      : value as string | null;
  }
  return args;
}

/** A run row (`seq`, `key`, `digest`, `created_at`, `run`) as a stored run; a run that is not a JSON object is corrupt. */
export function rowToRun(table: string, sessionId: string, row: SqlRow): StoredRun {
  const location = `${table}_runs row ${JSON.stringify(sessionId)} seq ${row["seq"]}`;
  const text = storedText(row["run"], location, "run");
  const key = storedText(row["key"], location, "key");
  const digest = storedText(row["digest"], location, "digest");
  if ((key !== null && typeof key !== "string") || (digest !== null && typeof digest !== "string")) {
    throw new CorruptRecordError(location, "key and digest must be text or NULL");
  }
  return {
    seq: Number(row["seq"]),
    key,
    digest,
    createdAt: Number(row["created_at"]),
    run: parseStoredObject(text, location, "a run"),
  };
}

/**
 * The fields of a patch as named arguments by column (`columns` in
 * `MODE_FIELDS[mode].all` order; JSON fields as their text), and the columns set.
 * `sessionId` is left out: the statement finds the row by it, so setting it changes nothing but costs a write of
 * the primary key's index.
 */
export function patchArgs(
  mode: SessionMode,
  columns: readonly string[],
  patch: Record<string, unknown>,
): { changed: string[]; args: NamedArgs } {
  const fields = MODE_FIELDS[mode];
  const changed: string[] = [];
  const args: NamedArgs = {};
  for (const [i, name] of fields.all.entries()) {
    if (!(name in patch) || name === "sessionId") continue;
    const column = columns[i]!;
    const value = patch[name];
    changed.push(column);
    args[column] = fields.objects.includes(name)
      ? (value === null ? null : JSON.stringify(value))
      : value as string | null;
  }
  return { changed, args };
}

/**
 * A page of run rows in `order` within `seqAbove < seq`, `limit` asked for,
 * as stored runs. Seqs run 1, 2, 3… without gaps: a page skipping one, or a
 * run that is not a JSON object, is a `CorruptRecordError` naming the row.
 */
export function rowsToRuns(
  table: string,
  sessionId: string,
  rows: SqlRow[],
  page: { seqAbove: number | null; order: "asc" | "desc"; limit: number },
): StoredRun[] {
  const step = page.order === "asc" ? 1 : -1;
  const first = (page.seqAbove ?? 0) + 1;
  // Descending from an upper bound past the end starts wherever the log ends.
  let expected = page.order === "asc" ? first : null;
  const runs = rows.map((row) => {
    const seq = Number(row["seq"]);
    if (expected !== null && seq !== expected) {
      throw new CorruptRecordError(
        `${table}_runs row ${JSON.stringify(sessionId)} seq ${row["seq"]}`,
        `the run log skips from seq ${expected - step} to ${seq}`,
      );
    }
    expected = seq + step;
    return rowToRun(table, sessionId, row);
  });
  const last = runs[runs.length - 1];
  if (page.order === "desc" && last !== undefined && runs.length < page.limit && last.seq !== first) {
    throw new CorruptRecordError(
      `${table}_runs row ${JSON.stringify(sessionId)} seq ${last.seq}`,
      `the run log has no seq ${last.seq - 1}`,
    );
  }
  return runs;
}
