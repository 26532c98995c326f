/**
 * The dialect half of the SQL engine: the SQL text a database family
 * speaks, for one table of one mode. Statements use `:name` markers; the
 * engine binds them through {@linkcode bindStatement} with the dialect's
 * placeholder style (`?1` for SQLite, `$1` for PostgreSQL).
 *
 * @module
 */
import type { ListQuery } from "../../session/list.ts";
import type { SqlStatement, SqlValue } from "./executor.ts";

/** Named arguments of a statement written with `:name` markers. */
export type NamedArgs = Record<string, SqlValue | boolean | undefined>;

/** A statement with `:name` markers and the values to bind to them. */
export interface NamedStatement {
  /** SQL with `:name` markers. */
  sql: string;
  /** A value per marker name. */
  args: NamedArgs;
}

/**
 * The statements of one table. Every write statement expresses its
 * ownership, version and TTL rule in its own `WHERE`, so it is atomic on
 * any connection; a refused write changes no row (and returns none).
 */
export interface SqlDialect {
  /** The placeholder for the `index`-th distinct marker (0-based). */
  placeholder(index: number): string;
  /** Statements by target layout version (index 0 is empty): each entry takes the table from N-1 to N. */
  readonly migrations: readonly (readonly string[])[];
  /** The schema record: create its table, read, claim the first and the next version, forget a table. */
  readonly schema: {
    create: string;
    read: string;
    claimFirst: string;
    claimNext: string;
    forget: string;
  };
  /** The session table's name (for error locations). */
  readonly table: string;
  /** Session columns in `MODE_FIELDS[mode].all` order. */
  readonly columns: readonly string[];
  /** One session by `:id`: the columns, text as bytes. */
  readonly read: string;
  /** Insert or update unless owned by another user; `RETURNING created_at, updated_at, version`. */
  readonly upsert: string;
  /** Insert only when absent or expired (`expectedVersion: 0`). */
  readonly insertOnly: string;
  /**
   * Update a live row at `:expected` (when not null) whose key columns (owner,
   * name, entity ids) all equal the new ones: only the content columns,
   * `updated_at` and `version` are set, so only indexes on `updated_at` change.
   * Returns no row otherwise (then the full statement decides).
   */
  readonly leanUpdate: string;
  /** Update only when live at version `:expected` and not another user's. */
  readonly updateIfVersion: string;
  /** Delete a live session (of `:user` when not null). */
  readonly delete: string;
  /** Rename a live session; returns the row. */
  readonly rename: string;
  /** Bump a live, owned session's version (`:expected` when not null); returns `version`. */
  readonly bump: string;
  /**
   * Insert `:id` at version 0 (the mark of a session this write creates), or
   * restart an expired row so; a live row is left as it is.
   */
  readonly createForAppend: string;
  /** Returns a row when `:id` is being created (version 0) or is live, not another user's, at `:expected` when not null. */
  readonly appendGuard: string;
  /**
   * Set the `columns` (each bound as `:column`) and bump the version, when
   * the session is being created, `:unkeyed` is true, or a key of `:keys`
   * (`[[key, digest], …]` as JSON) is not stored yet: a replay writes nothing.
   */
  patchBump(columns: readonly string[]): string;
  /** Returns a row unless a run of `:id` holds a key of `:keys` (`[[key, digest], …]`) with another digest. */
  readonly keysFree: string;
  /** Returns a row unless a run of `:id` up to seq `:keep` holds a key of `:keys` (`[[key, digest], …]`). */
  readonly keysKept: string;
  /** Append one run (`:key`, `:digest`, `:created`, `:run`) after the last `seq`, unless `:key` is stored already. */
  readonly appendRun: string;
  /** Delete the runs of `:id` after seq `:keep`. */
  readonly truncateRuns: string;
  /** `version` and `run_count` of `:id`. */
  readonly appendResult: string;
  /**
   * A page of runs with `:above < seq < :below`, ascending and descending:
   * `seq, key, digest, created_at, run` (text as bytes).
   */
  readonly runs: { asc: string; desc: string };
  /** The run of `:id` under `:key` (same columns), through the unique key index. */
  readonly runByKey: string;
  /** Import a row as it is: replaces an expired row, or any with `:overwrite`. */
  readonly importRow: string;
  /** Empty `:id`'s run log. */
  readonly clearRuns: string;
  /** Import one run as it is (`:seq`, `:key`, `:digest`, `:created`, `:run`). */
  readonly importRun: string;
  /** Delete sessions with `updated_at <= :live`. */
  readonly purge: string;
  /** Drop the tables. */
  readonly drop: readonly string[];
  /**
   * The operation log making writes safe to re-send: `claim` records `:op`
   * (failing when it is recorded already), `note*` append to its JSON array
   * `result` (the previous statement's change count; `:id`'s stamps
   * `[created_at, updated_at, version]`; `:id`'s run count), `read` returns
   * `result`, `prune` forgets operations older than `:before`.
   */
  readonly ops: {
    create: readonly string[];
    claim: string;
    prune: string;
    read: string;
    noteChanges: string;
    noteStamps: string;
    noteRunCount: string;
  };
  /** The statements above that return at most one row (a driver may fetch that row alone, which is cheaper). */
  readonly oneRow?: ReadonlySet<string>;
  /** A listing page (`keysOnly`: id and times). */
  list(query: ListQuery, keysOnly: boolean): NamedStatement;
  /** The statement returning `statement`'s plan, one row per step with a `detail` column. */
  explain(statement: NamedStatement): NamedStatement;
}

/**
 * The `CREATE INDEX` statement for `table` (`quoted`: how statements name it, schema included where there is one).
 */
export function createIndex(table: string, quoted: string, suffix: string, columns: string): string {
  return `CREATE INDEX IF NOT EXISTS "${table}_${suffix}" ON ${quoted} (${columns})`;
}

/**
 * The indexes of every listing path, by `created_at` and by `updated_at`, alone, by user and by entity id
 * (`entity`: its column), each with `session_id` as the tie-break of the keyset.
 */
export function listingIndexes(table: string, quoted: string, entity: string): string[] {
  return [
    ["created", "created_at, session_id"],
    ["updated", "updated_at, session_id"],
    ["user_created", "user_id, created_at, session_id"],
    ["user_updated", "user_id, updated_at, session_id"],
    ["entity_created", `${entity}, created_at, session_id`],
    ["entity_updated", `${entity}, updated_at, session_id`],
  ].map(([suffix, columns]) => createIndex(table, quoted, suffix!, columns!));
}

const MARKER = /:([A-Za-z_][A-Za-z0-9_]*)/g;
const compiled = new WeakMap<SqlDialect, Map<string, { sql: string; names: string[]; oneRow: boolean }>>();

/** Turns `:name` markers into the dialect's placeholders and the named values into positional ones. */
export function bindStatement(dialect: SqlDialect, statement: NamedStatement): SqlStatement {
  let cache = compiled.get(dialect);
  if (!cache) compiled.set(dialect, cache = new Map());
  let entry = cache.get(statement.sql);
  if (!entry) {
    const names: string[] = [];
    const sql = statement.sql.replace(MARKER, (_, name: string) => {
      let index = names.indexOf(name);
      if (index < 0) index = names.push(name) - 1;
      return dialect.placeholder(index);
    });
    entry = { sql, names, oneRow: dialect.oneRow?.has(statement.sql) ?? false };
    if (cache.size < 256) cache.set(statement.sql, entry);
  }
  const args = entry.names.map((name) => {
    const value = statement.args[name];
    if (value === undefined) throw new Error(`no value for :${name}`);
    return typeof value === "boolean" ? (value ? 1 : 0) : value;
  });
  return entry.oneRow ? { sql: entry.sql, args, oneRow: true } : { sql: entry.sql, args };
}
