/**
 * `import-agno <source> <to-url>`: reads Python agno's v1 storage and imports
 * it. Sources: a SQLite file with agno's `SqliteStorage` table (default
 * `<mode>_sessions`, or `--table`), or a `JsonStorage` directory of
 * `<session_id>.json` files (flat: agno does not nest them by mode, so files
 * holding another mode's entity id are skipped).
 *
 * Mapping: snake_case columns to camelCase fields; epoch seconds (or ISO
 * dates) to milliseconds (`updated_at` NULL: `created_at`; `created_at` NULL:
 * `updated_at`; neither, or a time that is neither: an error naming the row); JSON text parsed (SQLAlchemy stores `None` as
 * `null`); `session_data.session_name` to `sessionName`; `memory.runs` (where
 * agno v1 keeps an agent's runs) to the run log, each run's `created_at` (seconds) as
 * its time when it has one; anything that does not fit (unknown columns,
 * values that are not JSON objects) under `extraData.agno`. Sessions are
 * imported with version 1: agno keeps no version. SQLite rows are read in
 * `rowid` order; a `session_id` stored as an INTEGER or REAL is imported as its
 * decimal text, one stored as NULL or a BLOB is an error naming the row.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import type { JsonObject, JsonValue, RunRecord, Session, SessionExport, SessionMode } from "../mod.ts";
import { MODE_FIELDS } from "../backend.ts";
import { modeOf, onConflictOf, open, parse, print, str } from "./args.ts";
import { UsageError } from "./errors.ts";
import { Progress } from "./progress.ts";
import { BatchImporter, EntryChecker } from "./transfer.ts";

const COMMON = ["session_id", "user_id", "memory", "session_data", "extra_data", "created_at", "updated_at"];
const ENTITY_COLUMNS: Record<SessionMode, string> = { agent: "agent_id", team: "team_id", workflow: "workflow_id" };

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/**
 * Reads an agno JSON column (JSON text in SQLite, a value in JsonStorage files):
 * `object` when it is a JSON object or null (SQLAlchemy stores `None` as the
 * text `null`), else `other`: the parsed value, or the raw text when it is not JSON.
 */
function jsonColumn(value: unknown): { object: JsonObject | null } | { other: JsonValue } {
  if (value === null || value === undefined) return { object: null };
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return { other: value as string };
    }
  }
  if (value === null) return { object: null };
  if (typeof value === "object" && !Array.isArray(value)) return { object: value as JsonObject };
  return { other: plain(value) };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A time column to integer milliseconds: epoch seconds (number or numeric
 * text) or an ISO date; `null` when absent; an `Error` naming `where` otherwise.
 */
function time(value: unknown, column: string, where: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") value = Number(value);
  if (typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)) value = Number(value);
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new Error(`${where}: ${column} ${JSON.stringify(plain(value))} is neither epoch seconds nor an ISO date`);
}

function plain(value: unknown): JsonValue {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return `<${(value as ArrayBuffer).byteLength} bytes>`;
  return value as JsonValue;
}

/**
 * Converts one agno v1 row or JsonStorage file (snake_case keys, epoch
 * seconds or ISO dates) of `mode` to a session (version 1) with its runs;
 * errors name `where` (the row or file).
 */
export function fromAgno(row: Record<string, unknown>, mode: SessionMode, where: string): SessionExport<Session> {
  const f = MODE_FIELDS[mode];
  const leftovers: Record<string, JsonValue> = {};
  const id = row.session_id;
  if (typeof id !== "string" && (typeof id !== "number" || !Number.isFinite(id))) {
    throw new Error(`${where}: session_id is ${id === null || id === undefined ? "missing" : "not text or a number"}`);
  }
  const session: Record<string, unknown> = { sessionId: String(id) };
  session.userId = row.user_id == null ? null : String(row.user_id);
  const created = time(row.created_at, "created_at", where);
  const updated = time(row.updated_at, "updated_at", where);
  const createdAt = created ?? updated;
  if (createdAt === null) throw new Error(`${where}: neither created_at nor updated_at is set`);
  const updatedAt = Math.max(updated ?? createdAt, createdAt);
  const objects: Record<string, JsonObject | null> = {};
  for (const field of f.objects) {
    const column = snake(field);
    const value = jsonColumn(row[column]);
    if ("other" in value) leftovers[column] = value.other;
    objects[field] = "object" in value ? value.object : null;
  }
  const name = objects.sessionData?.session_name;
  session.sessionName = typeof name === "string" && name !== "" ? name : null;
  let runs: RunRecord[] = [];
  const memory = objects.memory;
  if (memory && Array.isArray(memory.runs) && memory.runs.every(isObject)) {
    runs = (memory.runs as JsonObject[]).map((run, i) => ({
      seq: i + 1,
      key: null,
      createdAt: time(run.created_at, `memory.runs[${i}].created_at`, where) ?? updatedAt,
      run,
    }));
    const { runs: _, ...rest } = memory;
    objects.memory = rest;
  }
  Object.assign(session, objects);
  for (const field of f.strings) {
    const value = row[snake(field)];
    session[field] = value == null || value === "" ? null : String(value);
  }
  const mapped = new Set([...COMMON, ...[...f.strings, ...f.objects].map(snake)]);
  for (const [column, value] of Object.entries(row)) {
    // An unknown column's NULL (a column added to some rows only) carries nothing worth keeping.
    if (!mapped.has(column) && value !== undefined && value !== null) leftovers[column] = plain(value);
  }
  if (Object.keys(leftovers).length > 0) {
    session.extraData = { ...(session.extraData as JsonObject | null ?? {}), agno: leftovers };
  }
  return { session: { ...session, createdAt, updatedAt, version: 1 } as unknown as Session, runs };
}

/** A row or file of agno's storage and where it is, for messages. */
interface Source {
  row: Record<string, unknown>;
  where: string;
}

const ROWID = "__agentstate_rowid";
const TYPE = "__agentstate_type_";
const VALUE = "__agentstate_value_";
const ID_TEXT = "__agentstate_id_text";
/** A numeric session_id as text (ASCII, so safe to read as TEXT). */
const NUMBER_ID = "CASE WHEN typeof(session_id) IN ('integer', 'real') THEN CAST(session_id AS TEXT) END";

/** Bytes of a TEXT column as a string; invalid UTF-8 is an error naming where (never U+FFFD, never a crash). */
function strictText(bytes: unknown, where: string): string {
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes as Uint8Array;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(view);
  } catch {
    throw new Error(`${where}: text is not valid UTF-8`);
  }
}

async function* readSqlite(path: string, table: string): AsyncGenerator<Source> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new UsageError(`--table must be a plain identifier, got ${table}`);
  const { createClient } = await import("@libsql/client");
  const client = createClient({ url: `file:${path}` });
  try {
    const exists = await client.execute({
      sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
      args: [table],
    }).catch((error) => {
      throw new Error(`${path} is not a SQLite database (${(error as Error).message})`);
    });
    if (exists.rows.length === 0) throw new Error(`${path} has no table ${table} (choose one with --table)`);
    // Text is read as bytes and decoded strictly: the native driver aborts the process on invalid UTF-8 in TEXT.
    const info = await client.execute(`PRAGMA table_info("${table}")`);
    const columns = info.rows.map((r) => String(r.name));
    const quoted = (c: string) => `"${c.replaceAll('"', '""')}"`;
    const selected = columns.map((c, i) =>
      `typeof(${quoted(c)}) AS "${TYPE}${i}", ` +
      `CASE WHEN typeof(${quoted(c)}) = 'text' THEN CAST(${quoted(c)} AS BLOB) ELSE ${quoted(c)} END AS "${VALUE}${i}"`
    ).join(", ");
    // rowid order is total whatever session_id holds (text, integers, blobs, NULLs), so every row is read once.
    let last = 0;
    for (;;) {
      const result: { rows: Record<string, unknown>[] } = await client.execute({
        sql: `SELECT rowid AS "${ROWID}", ${NUMBER_ID} AS "${ID_TEXT}", ${selected} ` +
          `FROM "${table}" WHERE rowid > ? ORDER BY rowid LIMIT 500`,
        args: [last],
      }).catch((error) => {
        throw new Error(`${path}: cannot page ${table} by rowid (${(error as Error).message})`);
      });
      if (result.rows.length === 0) return;
      for (const r of result.rows) {
        last = Number(r[ROWID]);
        const where = `${path}: ${table} row ${last}`;
        const row: Record<string, unknown> = {};
        const types: Record<string, unknown> = {};
        columns.forEach((c, i) => {
          types[c] = r[`${TYPE}${i}`];
          row[c] = types[c] === "text" ? strictText(r[`${VALUE}${i}`], `${where}, column ${c}`) : r[`${VALUE}${i}`];
        });
        const type = types.session_id;
        if (type === "null" || type === "blob") {
          throw new Error(`${where}: session_id is ${type === "null" ? "NULL" : "a BLOB"}`);
        }
        if (type !== "text") row.session_id = r[ID_TEXT]; // SQLite's own text of the number (`5.0` for a REAL)
        yield { row, where };
      }
    }
  } finally {
    client.close();
  }
}

async function* readJsonDir(dir: string, mode: SessionMode, skipped: { count: number }): AsyncGenerator<Source> {
  const names: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith(".json")) names.push(entry.name);
  }
  const others = Object.values(ENTITY_COLUMNS).filter((c) => c !== ENTITY_COLUMNS[mode]);
  for (const name of names.sort()) {
    let data: unknown;
    try {
      data = JSON.parse(await readFile(`${dir}/${name}`, "utf8"));
    } catch (error) {
      throw new Error(`${dir}/${name} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof data !== "object" || data === null || Array.isArray(data) || !("session_id" in data)) {
      throw new Error(`${dir}/${name} is not an agno session (no session_id)`);
    }
    if (!(ENTITY_COLUMNS[mode] in data) && others.some((c) => c in data)) {
      skipped.count++;
      continue;
    }
    yield { row: data as Record<string, unknown>, where: `${dir}/${name}` };
  }
}

/** `import-agno <source> <to-url> [--mode] [--table] [--target-table] [--on-conflict]`. */
export async function importAgno(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    "on-conflict": { type: "string" },
    "target-table": { type: "string" },
  });
  const mode = modeOf(values.mode);
  const [source, target] = positionals;
  if (!source || !target || positionals.length > 2) {
    throw new UsageError("import-agno needs a source (agno SQLite file or JsonStorage directory) and a target URL");
  }
  const onConflict = onConflictOf(str(values, "on-conflict"), "skip");
  const info = await stat(source);
  const otherMode = { count: 0 };
  const rows = info.isDirectory()
    ? readJsonDir(source, mode, otherMode)
    : readSqlite(source, str(values, "table") ?? `${mode}_sessions`);
  await using storage = await open(target, values, { mode, table: str(values, "target-table") });
  const progress = new Progress("import-agno", { quiet: values.quiet === true });
  const importer = new BatchImporter(storage, onConflict, progress);
  const checker = new EntryChecker(mode);
  for await (const { row, where } of rows) {
    const entry = fromAgno(row, mode, where);
    await importer.add(await checker.check(entry, `${where}: session ${JSON.stringify(entry.session.sessionId)}`));
  }
  await importer.flush();
  const { imported, skipped } = importer;
  progress.finish();
  const other = otherMode.count ? `, ${otherMode.count} file(s) of another mode left out` : "";
  print(`imported ${imported} agno ${mode} session(s), skipped ${skipped}${other}`);
}
