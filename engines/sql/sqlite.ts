/**
 * The SQLite dialect (libSQL, `node:sqlite`, any SQLite driver): the layout
 * `LibsqlStorage` has always written, its migrations, and every statement
 * with its rule in one atomic `WHERE`.
 *
 * @module
 */
import type { ListQuery } from "../../session/list.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import type { SessionMode } from "../../session/types.ts";
import { listingIndexes, type NamedArgs, type NamedStatement, type SqlDialect } from "./dialect.ts";

/** The table recording each session table's layout version. */
export const SQLITE_SCHEMA_TABLE = "agentstate_schema";

/** Recently applied write operations, so a re-sent write returns its first result. */
export const SQLITE_OPS_TABLE = "agentstate_ops";
const OPS = SQLITE_OPS_TABLE;

function note(value: string): string {
  return `UPDATE ${OPS} SET result = json_insert(result, '$[#]', ${value}) WHERE op_id = :op`;
}

/** `createdAt` → `created_at`. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

const STAMPS = ["created_at", "updated_at", "version"];

/** Migrations by target version: statements taking a table from version N-1 to N. */
function migrations(table: string, mode: SessionMode): string[][] {
  const f = MODE_FIELDS[mode];
  const entity = snake(f.entity);
  const t = `"${table}"`;
  const text = [...f.strings, ...f.objects].map((name) => `${snake(name)} TEXT`).join(", ");
  return [
    [],
    [
      `CREATE TABLE IF NOT EXISTS ${t} (session_id TEXT PRIMARY KEY NOT NULL, user_id TEXT, session_name TEXT, ${text}, ` +
      `created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL)`,
      ...listingIndexes(table, t, entity),
    ],
    [
      // Version 2: the append-only run log, emptied with its session by triggers, so a
      // delete, a purge or the re-creation of an expired session (version back to 1)
      // takes the runs along in the same statement.
      `CREATE TABLE IF NOT EXISTS "${table}_runs" (session_id TEXT NOT NULL, seq INTEGER NOT NULL, ` +
      `created_at INTEGER NOT NULL, run TEXT NOT NULL, PRIMARY KEY (session_id, seq)) WITHOUT ROWID`,
      `CREATE TRIGGER IF NOT EXISTS "${table}_runs_on_delete" AFTER DELETE ON ${t} ` +
      `BEGIN DELETE FROM "${table}_runs" WHERE session_id = OLD.session_id; END`,
      `CREATE TRIGGER IF NOT EXISTS "${table}_runs_on_restart" AFTER UPDATE OF version ON ${t} ` +
      `WHEN NEW.version = 1 BEGIN DELETE FROM "${table}_runs" WHERE session_id = NEW.session_id; END`,
    ],
    [
      // Version 3: run keys (unique per session, one index lookup) and digests of keyed runs.
      `ALTER TABLE "${table}_runs" ADD COLUMN key TEXT`,
      `ALTER TABLE "${table}_runs" ADD COLUMN digest TEXT`,
      `CREATE UNIQUE INDEX IF NOT EXISTS "${table}_runs_key" ON "${table}_runs" (session_id, key) ` +
      `WHERE key IS NOT NULL`,
    ],
    [
      // Version 4: most sessions have no name, so the name index holds only named ones.
      `DROP INDEX IF EXISTS "${table}_name"`,
      `CREATE INDEX IF NOT EXISTS "${table}_name" ON ${t} (session_name) WHERE session_name IS NOT NULL`,
    ],
  ];
}

/**
 * The select list: every text column as its bytes, which the engine decodes
 * strictly. A driver reading TEXT itself cuts it at a NUL or aborts the
 * process on invalid UTF-8; bytes reach JavaScript as they are stored.
 */
function selectList(columns: readonly string[]): string {
  return columns.map((c) => STAMPS.includes(c) ? c : `CAST(${c} AS BLOB) AS ${c}`).join(", ");
}

/** The SQLite statements for `table` holding sessions of `mode`. */
export function sqliteDialect(table: string, mode: SessionMode): SqlDialect {
  const columns = MODE_FIELDS[mode].all.map(snake);
  const t = `"${table}"`;
  const runs = `"${table}_runs"`;
  const content = columns.filter((c) => !STAMPS.includes(c));
  const objects = MODE_FIELDS[mode].objects.map(snake);
  const keyColumns = content.filter((c) => c !== "session_id" && !objects.includes(c));
  const values = content.map((c) => `:${c}`).join(", ");
  const all = selectList(columns);
  const stamps = STAMPS.join(", ");
  const set = content.filter((c) => c !== "session_id").map((c) => `${c} = excluded.${c}`).join(", ");
  const insert = `INSERT INTO ${t} (${content.join(", ")}, created_at, updated_at, version) ` +
    `VALUES (${values}, :now, :now, 1) ON CONFLICT (session_id) DO UPDATE SET ${set}, `;
  // An expired row (updated_at <= :live) is replaced as if absent.
  const expired = `${t}.updated_at <= :live`;
  const restart = `created_at = CASE WHEN ${expired} THEN excluded.created_at ELSE ${t}.created_at END, ` +
    `updated_at = excluded.updated_at, version = CASE WHEN ${expired} THEN 1 ELSE ${t}.version + 1 END`;
  const live = "(:live IS NULL OR updated_at > :live)";
  const owned = "(:user IS NULL OR s.user_id = :user) AND (:live IS NULL OR s.updated_at > :live)";
  const runColumns = "r.seq, CAST(r.key AS BLOB) AS key, CAST(r.digest AS BLOB) AS digest, r.created_at, " +
    "CAST(r.run AS BLOB) AS run";
  const runsFrom = `SELECT ${runColumns} FROM ${runs} r JOIN ${t} s ON s.session_id = r.session_id`;
  const runsPage = (direction: string) =>
    `${runsFrom} WHERE r.session_id = :id AND ${owned} AND r.seq > :above AND r.seq < :below ` +
    `ORDER BY r.seq ${direction} LIMIT :limit`;
  const keyOf = "json_extract(k.value, '$[0]')";
  const lastSeq = `(SELECT coalesce(max(seq), 0) FROM ${runs} WHERE session_id = :id)`;
  const s = SQLITE_SCHEMA_TABLE;
  const dialect: Omit<SqlDialect, "oneRow"> = {
    placeholder: (index) => `?${index + 1}`,
    migrations: migrations(table, mode),
    schema: {
      create: `CREATE TABLE IF NOT EXISTS ${s} (table_name TEXT PRIMARY KEY NOT NULL, mode TEXT NOT NULL, ` +
        `version INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
      read: `SELECT version FROM ${s} WHERE table_name = :table`,
      claimFirst: `INSERT INTO ${s} (table_name, mode, version, updated_at) VALUES (:table, :mode, :to, :now) ` +
        `ON CONFLICT (table_name) DO NOTHING`,
      claimNext: `UPDATE ${s} SET version = :to, updated_at = :now WHERE table_name = :table AND version = :from`,
      forget: `DELETE FROM ${s} WHERE table_name = :table`,
    },
    table,
    columns,
    read: `SELECT ${all} FROM ${t} WHERE ${t}.session_id = :id`,
    upsert: `${insert}${restart} WHERE ${expired} OR ${t}.user_id IS NULL OR ${t}.user_id IS excluded.user_id ` +
      `RETURNING ${stamps}`,
    insertOnly: `${insert}${restart} WHERE ${expired} RETURNING ${stamps}`,
    leanUpdate: `UPDATE ${t} SET ${objects.map((c) => `${c} = :${c}`).join(", ")}, updated_at = :now, ` +
      `version = version + 1 WHERE session_id = :session_id AND ${
        keyColumns.map((c) => `${c} IS :${c}`).join(" AND ")
      } ` +
      `AND ${live} AND (:expected IS NULL OR version = :expected) RETURNING ${stamps}`,
    updateIfVersion:
      `UPDATE ${t} SET ${content.filter((c) => c !== "session_id").map((c) => `${c} = :${c}`).join(", ")}, ` +
      `updated_at = :now, version = version + 1 WHERE session_id = :session_id AND version = :expected AND ${live} ` +
      `AND (user_id IS NULL OR user_id IS :user_id) RETURNING ${stamps}`,
    delete: `DELETE FROM ${t} WHERE session_id = :id AND (:user IS NULL OR user_id = :user) AND ${live}`,
    rename: `UPDATE ${t} SET session_name = :name, updated_at = :now, version = version + 1 ` +
      `WHERE session_id = :id AND (:user IS NULL OR user_id = :user) AND ${live} RETURNING ${all}`,
    bump: `UPDATE ${t} SET updated_at = :now, version = version + 1 WHERE session_id = :id AND ${live} ` +
      `AND (user_id IS NULL OR user_id IS :user) AND (:expected IS NULL OR version = :expected) RETURNING version`,
    createForAppend: `INSERT INTO ${t} (${content.join(", ")}, created_at, updated_at, version) ` +
      `VALUES (${values}, :now, :now, 0) ON CONFLICT (session_id) DO UPDATE SET ${set}, ` +
      `created_at = excluded.created_at, updated_at = excluded.updated_at, version = 0 WHERE ${expired}`,
    appendGuard: `SELECT 1 FROM ${t} WHERE session_id = :id AND (version = 0 OR (${live} ` +
      `AND (user_id IS NULL OR user_id IS :user) AND (:expected IS NULL OR version = :expected)))`,
    patchBump: (changed) =>
      `UPDATE ${t} SET ${changed.map((c) => `${c} = :${c}, `).join("")}updated_at = :now, version = version + 1 ` +
      `WHERE session_id = :id AND (version = 0 OR :unkeyed OR (SELECT count(*) FROM ${runs} ` +
      `WHERE session_id = :id AND key IN (SELECT ${keyOf} FROM json_each(:keys) k)) < json_array_length(:keys))`,
    // CROSS JOIN keeps the key list outside: each key is one lookup in the key index (a plain JOIN let SQLite walk
    // the session's whole log instead, so a keyed append slowed down as the log grew).
    keysFree: `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM json_each(:keys) k CROSS JOIN ${runs} r ` +
      `ON r.session_id = :id AND r.key = ${keyOf} WHERE r.digest IS NOT json_extract(k.value, '$[1]'))`,
    keysKept: `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM json_each(:keys) k CROSS JOIN ${runs} r ` +
      `ON r.session_id = :id AND r.key = ${keyOf} WHERE r.seq <= :keep)`,
    appendRun: `INSERT INTO ${runs} (session_id, seq, key, digest, created_at, run) ` +
      `SELECT :id, ${lastSeq} + 1, :key, :digest, :created, :run ` +
      `WHERE :key IS NULL OR NOT EXISTS (SELECT 1 FROM ${runs} WHERE session_id = :id AND key = :key)`,
    truncateRuns: `DELETE FROM ${runs} WHERE session_id = :id AND seq > :keep`,
    appendResult: `SELECT version, ${lastSeq} AS run_count FROM ${t} WHERE session_id = :id`,
    runs: { asc: runsPage("ASC"), desc: runsPage("DESC") },
    runByKey: `${runsFrom} WHERE r.session_id = :id AND r.key = :key AND ${owned}`,
    importRow: `INSERT INTO ${t} (${columns.join(", ")}) VALUES (${values}, :created, :updated, :version) ` +
      `ON CONFLICT (session_id) DO UPDATE SET ${set}, created_at = excluded.created_at, ` +
      `updated_at = excluded.updated_at, version = excluded.version WHERE :overwrite OR ${expired}`,
    clearRuns: `DELETE FROM ${runs} WHERE session_id = :id`,
    importRun: `INSERT INTO ${runs} (session_id, seq, key, digest, created_at, run) ` +
      `VALUES (:id, :seq, :key, :digest, :created, :run)`,
    purge: `DELETE FROM ${t} WHERE updated_at <= :live`,
    drop: [`DROP TABLE IF EXISTS ${t}`, `DROP TABLE IF EXISTS ${runs}`],
    ops: {
      create: [
        `CREATE TABLE IF NOT EXISTS ${OPS} (op_id TEXT PRIMARY KEY NOT NULL, created_at INTEGER NOT NULL, ` +
        `result TEXT NOT NULL)`,
        `CREATE INDEX IF NOT EXISTS ${OPS}_created ON ${OPS} (created_at)`,
      ],
      claim: `INSERT INTO ${OPS} (op_id, created_at, result) VALUES (:op, :now, :result)`,
      prune: `DELETE FROM ${OPS} WHERE created_at < :before`,
      read: `SELECT result FROM ${OPS} WHERE op_id = :op`,
      noteChanges: note("changes()"),
      noteStamps: note(`(SELECT json_array(created_at, updated_at, version) FROM ${t} WHERE session_id = :id)`),
      noteRunCount: note(lastSeq),
    },
    list: (query, keysOnly) =>
      listStatement(
        table,
        mode,
        query,
        keysOnly ? selectList(["session_id"]) + `, ${t}.created_at, ${t}.updated_at` : all,
      ),
    explain: (statement) => ({ sql: `EXPLAIN QUERY PLAN ${statement.sql}`, args: statement.args }),
  };
  const d = dialect;
  // Each reads or writes one row by primary key (session_id, op_id) or by the unique (session_id, key), or is a
  // guard selecting at most one row.
  const oneRow = [d.read, d.upsert, d.insertOnly, d.leanUpdate, d.updateIfVersion, d.rename, d.bump, d.appendResult];
  const guards = [d.appendGuard, d.keysFree, d.keysKept];
  return { ...dialect, oneRow: new Set([...oneRow, ...guards, d.runByKey, d.ops.read]) };
}

/** One indexed range query: filters in `WHERE`, keyset `(sort, id) > (…)`, `LIMIT n + 1`. */
function listStatement(table: string, mode: SessionMode, query: ListQuery, columns: string): NamedStatement {
  // Columns are qualified: the select list aliases them, and in ORDER BY an
  // alias would win over the indexed column and force a sort of every row.
  const t = `"${table}"`;
  const where: string[] = [];
  const args: NamedArgs = {};
  const add = (clause: string, name: string, value: string | number) => {
    where.push(`${t}.${clause} :${name}`);
    args[name] = value;
  };
  if (query.userId !== undefined) add("user_id =", "user", query.userId);
  if (query.entityId !== undefined) add(`${snake(MODE_FIELDS[mode].entity)} =`, "entity", query.entityId);
  if (query.sessionName !== undefined) add("session_name =", "name", query.sessionName);
  if (query.createdAfter !== undefined) add("created_at >", "created_after", query.createdAfter);
  if (query.createdBefore !== undefined) add("created_at <", "created_before", query.createdBefore);
  if (query.updatedAfter !== undefined) add("updated_at >", "updated_after", query.updatedAfter);
  if (query.updatedBefore !== undefined) add("updated_at <", "updated_before", query.updatedBefore);
  if (query.liveAfter !== null) {
    // Unary + keeps the planner from choosing an updated_at index for the TTL test over the sort's index.
    where.push(`+${t}.updated_at > :live`);
    args.live = query.liveAfter;
  }
  const sort = `${t}.${snake(query.sortBy)}`;
  const direction = query.order === "asc" ? "ASC" : "DESC";
  if (query.after !== null) {
    where.push(`(${sort}, ${t}.session_id) ${query.order === "asc" ? ">" : "<"} (:after_value, :after_id)`);
    args.after_value = query.after.value;
    args.after_id = query.after.sessionId;
  }
  const sql = `SELECT ${columns} FROM ${t}` + (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY ${sort} ${direction}, ${t}.session_id ${direction} LIMIT ${query.limit + 1}`;
  return { sql, args };
}
