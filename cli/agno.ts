/**
 * `import-agno <source> <to-url>`: reads Python agno's v1 storage and imports
 * it. Sources: a SQLite file with agno's `SqliteStorage` table (default
 * `<mode>_sessions`, or `--table`), or a `JsonStorage` directory of
 * `<session_id>.json` files (flat: agno does not nest them by mode, so files
 * holding another mode's entity id are skipped).
 *
 * Mapping: snake_case columns to camelCase fields; epoch seconds to
 * milliseconds (`updated_at` NULL: `created_at`; `created_at` NULL:
 * `updated_at`, else now); JSON text parsed (SQLAlchemy stores `None` as
 * `null`); `session_data.session_name` to `sessionName`; `memory.runs` (where
 * agno v1 keeps an agent's runs) to the run log, each run's `created_at` (seconds) as
 * its time when it has one; anything that does not fit (unknown columns,
 * values that are not JSON objects) under `extraData.agno`. Sessions are
 * imported with version 1: agno keeps no version.
 */
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

/** Epoch seconds (number or numeric text) to integer milliseconds; `null` when absent or not a time. */
function seconds(value: unknown): number | null {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? Math.round(n * 1000) : null;
}

function plain(value: unknown): JsonValue {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return `<${(value as ArrayBuffer).byteLength} bytes>`;
  return value as JsonValue;
}

/**
 * Converts one agno v1 row or JsonStorage file (snake_case keys, epoch
 * seconds) of `mode` to a session (version 1) with its runs; `now` stands in
 * for missing times.
 */
export function fromAgno(row: Record<string, unknown>, mode: SessionMode, now: number): SessionExport<Session> {
  const f = MODE_FIELDS[mode];
  const leftovers: Record<string, JsonValue> = {};
  const session: Record<string, unknown> = { sessionId: String(row.session_id) };
  session.userId = row.user_id == null ? null : String(row.user_id);
  const createdAt = seconds(row.created_at) ?? seconds(row.updated_at) ?? now;
  const updatedAt = Math.max(seconds(row.updated_at) ?? createdAt, createdAt);
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
      createdAt: seconds(run.created_at) ?? updatedAt,
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

async function* readSqlite(path: string, table: string): AsyncGenerator<Record<string, unknown>> {
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
    let last: string | null = null;
    for (;;) {
      const result: { columns: string[]; rows: Record<string, unknown>[] } = await client.execute({
        sql: `SELECT * FROM "${table}" ${last === null ? "" : "WHERE session_id > ?"} ORDER BY session_id LIMIT 500`,
        args: last === null ? [] : [last],
      });
      if (result.rows.length === 0) return;
      for (const row of result.rows) yield Object.fromEntries(result.columns.map((c) => [c, row[c]]));
      last = String(result.rows[result.rows.length - 1]!.session_id);
    }
  } finally {
    client.close();
  }
}

async function* readJsonDir(dir: string, mode: SessionMode, skipped: { count: number }) {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.isFile && entry.name.endsWith(".json")) names.push(entry.name);
  const others = Object.values(ENTITY_COLUMNS).filter((c) => c !== ENTITY_COLUMNS[mode]);
  for (const name of names.sort()) {
    let data: unknown;
    try {
      data = JSON.parse(await Deno.readTextFile(`${dir}/${name}`));
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
    yield data as Record<string, unknown>;
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
  const info = await Deno.stat(source);
  const otherMode = { count: 0 };
  const rows = info.isDirectory
    ? readJsonDir(source, mode, otherMode)
    : readSqlite(source, str(values, "table") ?? `${mode}_sessions`);
  await using storage = await open(target, values, { mode, table: str(values, "target-table") });
  const progress = new Progress("import-agno", { quiet: values.quiet === true });
  const importer = new BatchImporter(storage, onConflict, progress);
  const checker = new EntryChecker(mode);
  const now = Date.now();
  for await (const row of rows) {
    const entry = fromAgno(row, mode, now);
    await importer.add(await checker.check(entry, `${source}: session ${JSON.stringify(entry.session.sessionId)}`));
  }
  await importer.flush();
  const { imported, skipped } = importer;
  progress.finish();
  const other = otherMode.count ? `, ${otherMode.count} file(s) of another mode left out` : "";
  print(`imported ${imported} agno ${mode} session(s), skipped ${skipped}${other}`);
}
