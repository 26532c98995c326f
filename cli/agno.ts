/**
 * `import-agno <source> <to-url>`: reads Python agno's v1 storage and imports
 * it. Sources: a SQLite file with agno's `agent_sessions` / `team_sessions` /
 * `workflow_sessions` tables, or a JsonStorage directory of `<session_id>.json`.
 *
 * Mapping: snake_case columns to camelCase fields; epoch seconds to
 * milliseconds (`updated_at` NULL: `created_at`); `session_data.session_name`
 * to `sessionName`; `memory.runs` (agno v1 keeps the runs in memory) to the
 * run log; anything else that does not fit (unknown columns, values that are
 * not JSON objects) under `extraData.agno`. Sessions are imported with version 1.
 */
import type { JsonObject, JsonValue, RunRecord, Session, SessionExport, SessionMode } from "../mod.ts";
import { MODE_FIELDS } from "../mod.ts";
import { modeOf, open, parse, print } from "./args.ts";
import { UsageError } from "./errors.ts";
import { Progress } from "./progress.ts";
import { BatchImporter } from "./transfer.ts";

const KNOWN = ["session_id", "user_id", "memory", "session_data", "extra_data", "created_at", "updated_at"];

function asObject(value: unknown): JsonObject | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value as JsonObject : undefined;
}

function seconds(value: unknown): number | null {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? Math.round(n * 1000) : null;
}

/** Converts one agno row (snake_case, epoch seconds) to a session with its runs. */
export function fromAgno(row: Record<string, unknown>, mode: SessionMode, now: number): SessionExport<Session> {
  const f = MODE_FIELDS[mode];
  const leftovers: Record<string, JsonValue> = {};
  const session: Record<string, unknown> = { sessionId: String(row.session_id) };
  session.userId = row.user_id == null ? null : String(row.user_id);
  const sessionData = asObject(row.session_data);
  const name = sessionData?.session_name;
  session.sessionName = typeof name === "string" && name !== "" ? name : null;
  const memory = asObject(row.memory);
  let runs: RunRecord[] = [];
  const createdAt = seconds(row.created_at) ?? now;
  const updatedAt = seconds(row.updated_at) ?? createdAt;
  if (
    memory && Array.isArray(memory.runs) && memory.runs.every((r) => typeof r === "object" && r && !Array.isArray(r))
  ) {
    runs = (memory.runs as JsonObject[]).map((run, i) => ({ seq: i + 1, createdAt: updatedAt, run }));
    const { runs: _, ...rest } = memory;
    session.memory = rest;
  } else session.memory = memory ?? null;
  session.sessionData = sessionData ?? null;
  session.extraData = asObject(row.extra_data) ?? null;
  for (const column of ["memory", "session_data", "extra_data"]) {
    if (asObject(row[column]) === undefined) leftovers[column] = row[column] as JsonValue;
  }
  for (const field of [...f.strings, ...f.objects.slice(3)]) {
    const column = field.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
    const value = row[column];
    if (f.objects.includes(field)) {
      const object = asObject(value);
      session[field] = object ?? null;
      if (object === undefined) leftovers[column] = value as JsonValue;
    } else session[field] = value == null || value === "" ? null : String(value);
  }
  const mapped = new Set([
    ...KNOWN,
    ...[...f.strings, ...f.objects].map((n) => n.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())),
  ]);
  for (const [column, value] of Object.entries(row)) {
    if (!mapped.has(column) && value !== undefined) {
      leftovers[column] = (typeof value === "bigint" ? Number(value) : value) as JsonValue;
    }
  }
  if (Object.keys(leftovers).length > 0) {
    session.extraData = { ...(session.extraData as JsonObject | null ?? {}), agno: leftovers };
  }
  return { session: { ...session, createdAt, updatedAt, version: 1 } as unknown as Session, runs };
}

async function* readSqlite(path: string, table: string): AsyncGenerator<Record<string, unknown>> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new UsageError(`--table must be a plain identifier, got ${table}`);
  await Deno.stat(path);
  const { createClient } = await import("@libsql/client");
  const client = createClient({ url: `file:${path}` });
  try {
    let last = "";
    for (;;) {
      const result = await client.execute({
        sql: `SELECT * FROM "${table}" WHERE session_id > ? ORDER BY session_id LIMIT 500`,
        args: [last],
      });
      if (result.rows.length === 0) return;
      for (const row of result.rows) yield { ...row };
      last = String(result.rows[result.rows.length - 1]!.session_id);
    }
  } finally {
    client.close();
  }
}

async function* readJsonDir(dir: string): AsyncGenerator<Record<string, unknown>> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.isFile && entry.name.endsWith(".json")) names.push(entry.name);
  for (const name of names.sort()) {
    const text = await Deno.readTextFile(`${dir}/${name}`);
    try {
      yield JSON.parse(text);
    } catch (error) {
      throw new Error(`${dir}/${name} is not valid JSON: ${(error as Error).message}`);
    }
  }
}

/** `import-agno <source> <to-url> [--mode] [--table] [--on-conflict]`. */
export async function importAgno(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    "on-conflict": { type: "string" },
    "source-table": { type: "string" },
  });
  const mode = modeOf(values.mode);
  const [source, target] = positionals;
  if (!source || !target) {
    throw new UsageError("import-agno needs a source (SQLite file or JSON directory) and a target URL");
  }
  const onConflict = (values["on-conflict"] ?? "skip") as "skip" | "overwrite" | "fail";
  if (!["skip", "overwrite", "fail"].includes(onConflict)) {
    throw new UsageError("--on-conflict must be skip, overwrite or fail");
  }
  const info = await Deno.stat(source);
  const rows = info.isDirectory
    ? readJsonDir(source)
    : readSqlite(source, values["source-table"] ?? `${mode}_sessions`);
  await using storage = await open(target, values, mode);
  const progress = new Progress("import-agno", { quiet: values.quiet });
  const importer = new BatchImporter(storage, onConflict, progress);
  const now = Date.now();
  for await (const row of rows) await importer.add(fromAgno(row, mode, now));
  await importer.flush();
  const { imported, skipped } = importer;
  progress.done(`${imported} imported, ${skipped} skipped`);
  print(`imported ${imported} agno ${mode} session(s), skipped ${skipped}`);
}
