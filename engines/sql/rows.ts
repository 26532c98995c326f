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
import type { RunRecord, SessionMode, SessionOf } from "../../session/types.ts";
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

/**
 * A page of run rows (`seq`, `created_at`, `run`) in `order` after `afterSeq`,
 * `limit` asked for, as runs. Seqs run 1, 2, 3… without gaps: a page skipping one, or a run
 * that is not a JSON object, is a `CorruptRecordError` naming the row.
 */
export function rowsToRuns(
  table: string,
  sessionId: string,
  rows: SqlRow[],
  page: { afterSeq: number | null; order: "asc" | "desc"; limit: number },
): RunRecord[] {
  const step = page.order === "asc" ? 1 : -1;
  // Descending from a cursor past the end starts wherever the log ends.
  let expected = page.order === "asc" ? (page.afterSeq ?? 0) + 1 : null;
  const runs = rows.map((row) => {
    const seq = Number(row["seq"]);
    const location = `${table}_runs row ${JSON.stringify(sessionId)} seq ${row["seq"]}`;
    if (expected !== null && seq !== expected) {
      throw new CorruptRecordError(location, `the run log skips from seq ${expected - step} to ${seq}`);
    }
    expected = seq + step;
    const text = storedText(row["run"], location, "run");
    return { seq, createdAt: Number(row["created_at"]), run: parseStoredObject(text, location, "a run") };
  });
  const last = runs[runs.length - 1];
  if (page.order === "desc" && last !== undefined && runs.length < page.limit && last.seq !== 1) {
    throw new CorruptRecordError(
      `${table}_runs row ${JSON.stringify(sessionId)} seq ${last.seq}`,
      `the run log has no seq ${last.seq - 1}`,
    );
  }
  return runs;
}
