/**
 * The PostgreSQL dialect of the SQL engine: one session table and its run
 * log in a schema, each statement with its rule in one atomic `WHERE`, as
 * in the SQLite dialect.
 *
 * Ids, user ids, names and run keys are `bytea` (UTF-8): PostgreSQL's `text`
 * cannot hold NUL, and bytes compare as code points do, so ids order as on
 * every other backend whatever the database's collation. JSON fields are
 * `text` holding exactly the JSON written. Every marker is cast to its type,
 * so parameters never depend on PostgreSQL's type inference; the executor
 * sends strings as UTF-8 bytes.
 *
 * @module
 */
import type { ListQuery } from "../../session/list.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import type { SessionMode } from "../../session/types.ts";
import { createIndex, listingIndexes, type NamedArgs, type NamedStatement, type SqlDialect } from "./dialect.ts";
import { snake } from "./sqlite.ts";

/** The table recording each session table's layout version, in the storage's schema. */
export const POSTGRES_SCHEMA_TABLE = "agentstate_schema";

/** The layout version {@linkcode postgresDialect} writes. */
export const POSTGRES_SCHEMA_VERSION = 1;

/** First key of the advisory lock guarding a schema's migrations (the second is the schema's hash). */
const LOCK_CLASS = 0x61677374; // "agst"

const STAMPS = ["created_at", "updated_at", "version"];

/** `CAST(:name AS type)`: every marker has its type written out. */
const bytes = (name: string) => `CAST(:${name} AS bytea)`;
const int = (name: string) => `CAST(:${name} AS bigint)`;
const text = (name: string) => `CAST(:${name} AS text)`;
const flag = (name: string) => `(CAST(:${name} AS integer) = 1)`;

/** The write operation log exists for drivers that re-send requests; `pg` does not, so it is never used. */
const NO_OPS = "SELECT CAST('the operation log is not implemented for PostgreSQL' AS integer)";

/** The PostgreSQL statements for `table` in `schema` holding sessions of `mode` (both plain identifiers). */
export function postgresDialect(schema: string, table: string, mode: SessionMode): SqlDialect {
  const f = MODE_FIELDS[mode];
  const columns = f.all.map(snake);
  const binary = new Set(["session_id", "user_id", "session_name", ...f.strings.map(snake)]);
  const t = `"${schema}"."${table}"`;
  const runs = `"${schema}"."${table}_runs"`;
  const s = `"${schema}".${POSTGRES_SCHEMA_TABLE}`;
  const lock = `SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext('${schema}'))`;
  const content = columns.filter((c) => !STAMPS.includes(c));
  const objects = f.objects.map(snake);
  const keyColumns = content.filter((c) => c !== "session_id" && !objects.includes(c));
  const marker = (c: string) => binary.has(c) ? bytes(c) : text(c);
  const values = content.map(marker).join(", ");
  const stamps = STAMPS.join(", ");
  const set = content.filter((c) => c !== "session_id").map((c) => `${c} = excluded.${c}`).join(", ");
  const insert = (version: number) =>
    `INSERT INTO ${t} AS cur (${content.join(", ")}, created_at, updated_at, version) ` +
    `VALUES (${values}, ${int("now")}, ${int("now")}, ${version}) ON CONFLICT (session_id) DO UPDATE SET ${set}, `;
  // An expired row (updated_at <= :live) is replaced as if absent.
  const expired = `cur.updated_at <= ${int("live")}`;
  const restart = `created_at = CASE WHEN ${expired} THEN excluded.created_at ELSE cur.created_at END, ` +
    `updated_at = excluded.updated_at, version = CASE WHEN ${expired} THEN 1 ELSE cur.version + 1 END`;
  const live = `(${int("live")} IS NULL OR updated_at > ${int("live")})`;
  const id = `session_id = ${bytes("id")}`;
  const mine = (user: string) => `(user_id IS NULL OR user_id IS NOT DISTINCT FROM ${bytes(user)})`;
  const owned = `(${bytes("user")} IS NULL OR s.user_id = ${bytes("user")}) AND ` +
    `(${int("live")} IS NULL OR s.updated_at > ${int("live")})`;
  const runsFrom = `SELECT r.seq, r.key, r.digest, r.created_at, r.run FROM ${runs} r ` +
    `JOIN ${t} s ON s.session_id = r.session_id`;
  const runsPage = (direction: string) =>
    `${runsFrom} WHERE r.session_id = ${bytes("id")} AND ${owned} AND r.seq > ${int("above")} ` +
    `AND r.seq < ${int("below")} ORDER BY r.seq ${direction} LIMIT ${int("limit")}`;
  // Keys travel as JSON `[[key, digest], …]`; a key holding NUL cannot become text and fails the statement.
  const keys = `json_array_elements(CAST(:keys AS json)) AS k(value)`;
  const keyOf = "convert_to(k.value ->> 0, 'UTF8')";
  const lastSeq = `(SELECT coalesce(max(seq), 0) FROM ${runs} WHERE ${id})`;
  const entity = snake(f.entity);
  const restartFunction = `"${schema}"."${table}_runs_restart"`;
  return {
    placeholder: (i) => `$${i + 1}`,
    migrations: [[], [
      lock,
      `CREATE TABLE IF NOT EXISTS ${t} (session_id bytea PRIMARY KEY, ` +
      content.slice(1).map((c) => `${c} ${binary.has(c) ? "bytea" : "text"}`).join(", ") +
      `, created_at bigint NOT NULL, updated_at bigint NOT NULL, version bigint NOT NULL)`,
      ...listingIndexes(table, t, entity),
      createIndex(table, t, "name", "session_name"),
      // The run log goes with its session (ON DELETE CASCADE), and is emptied when
      // an expired session is re-created (its version restarts at 1).
      `CREATE TABLE IF NOT EXISTS ${runs} (session_id bytea NOT NULL REFERENCES ${t} (session_id) ` +
      `ON DELETE CASCADE, seq bigint NOT NULL, key bytea, digest text, created_at bigint NOT NULL, ` +
      `run text NOT NULL, PRIMARY KEY (session_id, seq))`,
      `CREATE UNIQUE INDEX IF NOT EXISTS "${table}_runs_key" ON ${runs} (session_id, key) WHERE key IS NOT NULL`,
      `CREATE OR REPLACE FUNCTION ${restartFunction}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
      `DELETE FROM ${runs} WHERE session_id = NEW.session_id; RETURN NULL; END $$`,
      `CREATE OR REPLACE TRIGGER "${table}_runs_on_restart" AFTER UPDATE OF version ON ${t} FOR EACH ROW ` +
      `WHEN (NEW.version = 1) EXECUTE FUNCTION ${restartFunction}()`,
    ]],
    schema: {
      // Several statements in one simple query run as one transaction, under the schema's lock.
      // Only what is missing is created: a role without CREATE rights can use tables made for it.
      create: `${lock}; DO $$ BEGIN IF to_regnamespace('"${schema}"') IS NULL THEN CREATE SCHEMA "${schema}"; ` +
        `END IF; IF to_regclass('${s}') IS NULL THEN CREATE TABLE ${s} (table_name text PRIMARY KEY, ` +
        `mode text NOT NULL, version integer NOT NULL, updated_at bigint NOT NULL); END IF; END $$`,
      read: `SELECT version FROM ${s} WHERE table_name = ${text("table")}`,
      claimFirst: `INSERT INTO ${s} (table_name, mode, version, updated_at) ` +
        `VALUES (${text("table")}, ${text("mode")}, ${int("to")}, ${int("now")}) ON CONFLICT (table_name) DO NOTHING`,
      claimNext: `UPDATE ${s} SET version = ${int("to")}, updated_at = ${int("now")} ` +
        `WHERE table_name = ${text("table")} AND version = ${int("from")}`,
      forget: `DELETE FROM ${s} WHERE table_name = ${text("table")}`,
    },
    table,
    columns,
    read: `SELECT ${columns.join(", ")} FROM ${t} WHERE ${id}`,
    upsert: `${insert(1)}${restart} WHERE ${expired} OR cur.user_id IS NULL ` +
      `OR cur.user_id IS NOT DISTINCT FROM excluded.user_id RETURNING ${stamps}`,
    insertOnly: `${insert(1)}${restart} WHERE ${expired} RETURNING ${stamps}`,
    leanUpdate: `UPDATE ${t} SET ${objects.map((c) => `${c} = ${text(c)}`).join(", ")}, updated_at = ${int("now")}, ` +
      `version = version + 1 WHERE session_id = ${bytes("session_id")} AND ` +
      `${keyColumns.map((c) => `${c} IS NOT DISTINCT FROM ${bytes(c)}`).join(" AND ")} AND ${live} ` +
      `AND (${int("expected")} IS NULL OR version = ${int("expected")}) RETURNING ${stamps}`,
    updateIfVersion: `UPDATE ${t} SET ${content.slice(1).map((c) => `${c} = ${marker(c)}`).join(", ")}, ` +
      `updated_at = ${int("now")}, version = version + 1 WHERE session_id = ${bytes("session_id")} ` +
      `AND version = ${int("expected")} AND ${live} AND ${mine("user_id")} RETURNING ${stamps}`,
    delete: `DELETE FROM ${t} WHERE ${id} AND (${bytes("user")} IS NULL OR user_id = ${bytes("user")}) AND ${live}`,
    rename: `UPDATE ${t} SET session_name = ${bytes("name")}, updated_at = ${int("now")}, version = version + 1 ` +
      `WHERE ${id} AND (${bytes("user")} IS NULL OR user_id = ${bytes("user")}) AND ${live} ` +
      `RETURNING ${columns.join(", ")}`,
    bump: `UPDATE ${t} SET updated_at = ${int("now")}, version = version + 1 WHERE ${id} AND ${live} ` +
      `AND ${mine("user")} AND (${int("expected")} IS NULL OR version = ${int("expected")}) RETURNING version`,
    createForAppend: `${insert(0)}created_at = excluded.created_at, updated_at = excluded.updated_at, version = 0 ` +
      `WHERE ${expired}`,
    // FOR UPDATE: appends to one session queue here, so each sees the runs the one before it wrote.
    appendGuard: `SELECT 1 FROM ${t} WHERE ${id} AND (version = 0 OR (${live} AND ${mine("user")} ` +
      `AND (${int("expected")} IS NULL OR version = ${int("expected")}))) FOR UPDATE`,
    patchBump: (changed) =>
      `UPDATE ${t} SET ${changed.map((c) => `${c} = ${marker(c)}, `).join("")}updated_at = ${int("now")}, ` +
      `version = version + 1 WHERE ${id} AND (version = 0 OR ${flag("unkeyed")} OR (SELECT count(*) FROM ${runs} ` +
      `WHERE ${id} AND key IN (SELECT ${keyOf} FROM ${keys})) < json_array_length(CAST(:keys AS json)))`,
    keysFree: `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM ${keys} JOIN ${runs} r ON r.session_id = ${bytes("id")} ` +
      `AND r.key = ${keyOf} WHERE r.digest IS DISTINCT FROM (k.value ->> 1))`,
    keysKept: `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM ${keys} JOIN ${runs} r ON r.session_id = ${bytes("id")} ` +
      `AND r.key = ${keyOf} WHERE r.seq <= ${int("keep")})`,
    appendRun: `INSERT INTO ${runs} (session_id, seq, key, digest, created_at, run) ` +
      `SELECT ${bytes("id")}, ${lastSeq} + 1, ${bytes("key")}, ${text("digest")}, ${int("created")}, ${text("run")} ` +
      `WHERE ${bytes("key")} IS NULL OR NOT EXISTS (SELECT 1 FROM ${runs} WHERE ${id} AND key = ${bytes("key")})`,
    truncateRuns: `DELETE FROM ${runs} WHERE ${id} AND seq > ${int("keep")}`,
    appendResult: `SELECT version, ${lastSeq} AS run_count FROM ${t} WHERE ${id}`,
    runs: { asc: runsPage("ASC"), desc: runsPage("DESC") },
    runByKey: `${runsFrom} WHERE r.session_id = ${bytes("id")} AND r.key = ${bytes("key")} AND ${owned}`,
    importRow: `INSERT INTO ${t} AS cur (${columns.join(", ")}) ` +
      `VALUES (${values}, ${int("created")}, ${int("updated")}, ${int("version")}) ON CONFLICT (session_id) ` +
      `DO UPDATE SET ${set}, created_at = excluded.created_at, updated_at = excluded.updated_at, ` +
      `version = excluded.version WHERE ${flag("overwrite")} OR ${expired}`,
    clearRuns: `DELETE FROM ${runs} WHERE ${id}`,
    importRun: `INSERT INTO ${runs} (session_id, seq, key, digest, created_at, run) VALUES (${bytes("id")}, ` +
      `${int("seq")}, ${bytes("key")}, ${text("digest")}, ${int("created")}, ${text("run")})`,
    purge: `DELETE FROM ${t} WHERE updated_at <= ${int("live")}`,
    drop: [`DROP TABLE IF EXISTS ${runs}`, `DROP TABLE IF EXISTS ${t}`, `DROP FUNCTION IF EXISTS ${restartFunction}()`],
    ops: {
      create: [],
      claim: NO_OPS,
      prune: NO_OPS,
      read: NO_OPS,
      noteChanges: NO_OPS,
      noteStamps: NO_OPS,
      noteRunCount: NO_OPS,
    },
    list: (query, keysOnly) =>
      listStatement(t, entity, query, keysOnly ? "session_id, created_at, updated_at" : columns.join(", ")),
    explain: (statement) => ({ sql: `EXPLAIN ${statement.sql}`, args: statement.args }),
  };
}

/** One indexed range query: filters in `WHERE`, keyset `(sort, id) > (…)`, `LIMIT n + 1`. */
function listStatement(t: string, entity: string, query: ListQuery, columns: string): NamedStatement {
  const where: string[] = [];
  const args: NamedArgs = {};
  const add = (clause: string, name: string, value: string | number, type: "bytea" | "bigint") => {
    where.push(`${clause} CAST(:${name} AS ${type})`);
    args[name] = value;
  };
  if (query.userId !== undefined) add("user_id =", "user", query.userId, "bytea");
  if (query.entityId !== undefined) add(`${entity} =`, "entity", query.entityId, "bytea");
  if (query.sessionName !== undefined) add("session_name =", "name", query.sessionName, "bytea");
  if (query.createdAfter !== undefined) add("created_at >", "created_after", query.createdAfter, "bigint");
  if (query.createdBefore !== undefined) add("created_at <", "created_before", query.createdBefore, "bigint");
  if (query.updatedAfter !== undefined) add("updated_at >", "updated_after", query.updatedAfter, "bigint");
  if (query.updatedBefore !== undefined) add("updated_at <", "updated_before", query.updatedBefore, "bigint");
  if (query.liveAfter !== null) add("updated_at >", "live", query.liveAfter, "bigint");
  const sort = snake(query.sortBy);
  const direction = query.order === "asc" ? "ASC" : "DESC";
  if (query.after !== null) {
    where.push(
      `(${sort}, session_id) ${query.order === "asc" ? ">" : "<"} ` +
        `(CAST(:after_value AS bigint), CAST(:after_id AS bytea))`,
    );
    args.after_value = query.after.value;
    args.after_id = query.after.sessionId;
  }
  const sql = `SELECT ${columns} FROM ${t}` + (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY ${sort} ${direction}, session_id ${direction} LIMIT ${query.limit + 1}`;
  return { sql, args };
}
