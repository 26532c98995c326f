/**
 * {@linkcode LibsqlStorage}: sessions in a libSQL/SQLite table, embedded
 * (`:memory:`, `file:`) or remote (`libsql:`, `http(s):`, `ws(s):`).
 *
 * The driver (`@libsql/client`, or `@libsql/client/web` for remote URLs, which
 * loads no native code) is imported on first use.
 *
 * @module
 */
import type { Client, InArgs, InStatement, InValue, Row } from "@libsql/client";

/**
 * The part of `@libsql/client`'s `Client` this storage uses. Pass a real
 * `Client` (from `createClient`); this type only keeps the driver's types out
 * of this package's API.
 */
export interface LibsqlClientLike {
  /** Runs one statement. */
  execute(statement: string | { sql: string; args?: unknown }): Promise<unknown>;
  /** Runs statements in one transaction. */
  batch(statements: unknown[], mode?: "write" | "read" | "deferred"): Promise<unknown[]>;
  /** Closes the client. */
  close(): void;
}
import { BaseSessionStorage } from "../session/base.ts";
import type { AppendContext, ChangeContext, RunQuery, SessionKey, WriteContext } from "../session/driver.ts";
import { ConflictError, CorruptRecordError, SessionNotFoundError, ValidationError } from "../session/errors.ts";
import { type ListQuery, toListQuery } from "../session/list.ts";
import { MODE_FIELDS } from "../session/modes.ts";
import { parseStoredSession, type SessionContent } from "../session/parse.ts";
import { applyUpsert, checkWrite } from "../session/stamp.ts";
import type {
  AppendRunsResult,
  BaseStorageOptions,
  ImportResult,
  JsonObject,
  ListOptions,
  RunRecord,
  SessionExport,
  SessionMode,
  SessionOf,
  StorageCapabilities,
} from "../session/types.ts";

/** Options of {@linkcode LibsqlStorage}. */
export interface LibsqlStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /**
   * Database URL: `":memory:"`, `"file:path.db"`, `"libsql://…"`, `"http(s)://…"` or `"ws(s)://…"`.
   * Ignored when `client` is given.
   * @default {":memory:"}
   */
  url?: string;
  /** Token for remote databases. */
  authToken?: string;
  /**
   * Table name, a plain SQL identifier (letters, digits, `_`).
   * @default {"<mode>_sessions"}
   */
  table?: string;
  /** A `@libsql/client` client made by the caller; `close()` then leaves it open. */
  client?: LibsqlClientLike;
  /**
   * How long a write waits for a locked file database before failing, in ms.
   * @default {5000}
   */
  busyTimeoutMs?: number;
  /** Use `@libsql/client/web` (HTTP only, no native code) even for URLs the native client could open. */
  web?: boolean;
}

/** The layout version this code writes; older tables are migrated by `create()`. */
export const LIBSQL_SCHEMA_VERSION = 2;

const SCHEMA_TABLE = "agentstate_schema";
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

function isRemoteUrl(url: string): boolean {
  return /^(libsql|https?|wss?):/i.test(url);
}

/** Migrations by target version: statements taking a table from version N-1 to N. */
function migrations(table: string, mode: SessionMode): string[][] {
  const f = MODE_FIELDS[mode];
  const entity = snake(f.entity);
  const t = `"${table}"`;
  const text = [...f.strings, ...f.objects].map((name) => `${snake(name)} TEXT`).join(", ");
  const index = (suffix: string, columns: string) =>
    `CREATE INDEX IF NOT EXISTS "${table}_${suffix}" ON ${t} (${columns})`;
  return [
    [],
    [
      `CREATE TABLE IF NOT EXISTS ${t} (session_id TEXT PRIMARY KEY NOT NULL, user_id TEXT, session_name TEXT, ${text}, ` +
      `created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL)`,
      index("created", "created_at, session_id"),
      index("updated", "updated_at, session_id"),
      index("user_created", "user_id, created_at, session_id"),
      index("user_updated", "user_id, updated_at, session_id"),
      index("entity_created", `${entity}, created_at, session_id`),
      index("entity_updated", `${entity}, updated_at, session_id`),
      index("name", "session_name"),
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
  ];
}

/**
 * Keeps sessions of one mode in one libSQL table with real columns for every
 * filter and sort field, JSON text for the rest, and an index for every
 * listing path. Every write is one atomic statement (or one transaction for
 * `upsertMany`), so `expectedVersion` holds across processes.
 *
 * @typeParam M The mode of the sessions held.
 *
 * @example An embedded file database
 * ```ts ignore
 * import { LibsqlStorage } from "@agentstate/storage";
 * await using storage = new LibsqlStorage({ mode: "agent", url: "file:sessions.db" });
 * const saved = await storage.upsert({ sessionId: "chat-1", userId: "ada", memory: { turns: [] } });
 * await storage.upsert({ ...saved, memory: { turns: ["hi"] } }, { expectedVersion: saved.version });
 * ```
 */
export class LibsqlStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
  /** Batches run in one transaction; files and servers give cross-process OCC. */
  readonly capabilities: StorageCapabilities;
  /** The table holding this storage's sessions. */
  readonly table: string;
  #url: string;
  #authToken: string | undefined;
  #busyTimeoutMs: number;
  #web: boolean;
  #ownsClient: boolean;
  #client: Client | null;
  #connecting: Promise<Client> | null = null;
  #columns: string[];
  #sql: ReturnType<typeof buildSql>;

  /** Checks the options; connects on first use. */
  constructor(options?: LibsqlStorageOptions<M>) {
    super("libsql", options);
    const table = options?.table ?? `${this.mode}_sessions`;
    if (typeof table !== "string" || !IDENTIFIER.test(table) || table.toLowerCase().startsWith("sqlite_")) {
      throw new ValidationError([{
        path: ["table"],
        message: "expected a plain identifier: a letter or _, then letters, digits or _ (at most 63), not sqlite_*",
      }]);
    }
    if (table === SCHEMA_TABLE) {
      throw new ValidationError([{ path: ["table"], message: `"${SCHEMA_TABLE}" is reserved` }]);
    }
    this.table = table;
    this.#url = options?.url ?? ":memory:";
    if (typeof this.#url !== "string") throw new ValidationError([{ path: ["url"], message: "expected a string" }]);
    this.#authToken = options?.authToken;
    this.#busyTimeoutMs = options?.busyTimeoutMs ?? 5000;
    this.#web = options?.web ?? isRemoteUrl(this.#url);
    this.#client = (options?.client as Client | undefined) ?? null;
    this.#ownsClient = options?.client === undefined;
    const persistent = this.#client !== null || this.#url !== ":memory:";
    this.capabilities = { atomicBatch: true, crossProcessOcc: persistent, persistent };
    this.#columns = MODE_FIELDS[this.mode].all.map(snake);
    this.#sql = buildSql(table, this.#columns, MODE_FIELDS[this.mode].objects.map(snake));
  }

  async #connect(): Promise<Client> {
    if (this.#client) return this.#client;
    this.#connecting ??= (async () => {
      const file = this.#url.startsWith("file:");
      const config = {
        url: this.#url,
        authToken: this.#authToken,
        timeout: this.#busyTimeoutMs,
        intMode: "number" as const,
        // One connection, so the per-connection pragmas below hold for every statement.
        ...(file ? { concurrency: 1 } : {}),
      };
      if (file) await createPrivateFile(this.#url);
      const driver = this.#web ? await import("@libsql/client/web") : await import("@libsql/client");
      const client = driver.createClient(config);
      if (file) {
        // WAL lets readers run beside a writer; synchronous=NORMAL is durable against
        // process crashes (a power loss may drop the last commits) and far faster.
        await client.execute("PRAGMA journal_mode = WAL");
        await client.execute("PRAGMA synchronous = NORMAL");
      }
      this.#client = client;
      return client;
    })().catch((error) => {
      this.#connecting = null;
      throw error;
    });
    return await this.#connecting;
  }

  /** The schema version recorded for this table (`0`: not created). */
  async schemaVersion(): Promise<number> {
    const client = await this.#connect();
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${SCHEMA_TABLE} (table_name TEXT PRIMARY KEY NOT NULL, mode TEXT NOT NULL, ` +
        `version INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
    );
    const result = await client.execute({
      sql: `SELECT version FROM ${SCHEMA_TABLE} WHERE table_name = ?`,
      args: [this.table],
    });
    return Number(result.rows[0]?.["version"] ?? 0);
  }

  /**
   * Creates the table and indexes or migrates them to {@linkcode LIBSQL_SCHEMA_VERSION}.
   * Each step runs in one transaction guarded by the recorded version, so
   * concurrent `create()` calls apply it once.
   */
  protected async doCreate(): Promise<void> {
    const client = await this.#connect();
    const steps = migrations(this.table, this.mode);
    for (let from = await this.schemaVersion(); from < LIBSQL_SCHEMA_VERSION; from = await this.schemaVersion()) {
      const to = from + 1;
      const claim: InStatement = from === 0
        ? {
          sql: `INSERT INTO ${SCHEMA_TABLE} (table_name, mode, version, updated_at) VALUES (?, ?, ?, ?) ` +
            `ON CONFLICT (table_name) DO NOTHING`,
          args: [this.table, this.mode, to, this.clock()],
        }
        : {
          sql: `UPDATE ${SCHEMA_TABLE} SET version = ?, updated_at = ? WHERE table_name = ? AND version = ?`,
          args: [to, this.clock(), this.table, from],
        };
      try {
        await client.batch([claim, GUARD, ...steps[to]!], "write");
      } catch (error) {
        // Another process migrated first: the loop re-reads the version.
        if (!isGuardError(error)) throw error;
      }
    }
  }

  #toSession(row: Row): SessionOf<M> {
    const location = `${this.table} row ${JSON.stringify(String(row["session_id"]))}`;
    const record: Record<string, unknown> = {};
    const fields = MODE_FIELDS[this.mode];
    for (const [i, name] of fields.all.entries()) {
      const value = row[this.#columns[i]!];
      if (fields.objects.includes(name) && typeof value === "string") {
        try {
          record[name] = JSON.parse(value);
        } catch (error) {
          throw new CorruptRecordError(location, `column ${this.#columns[i]} is not JSON`, {
            cause: error,
            backend: this.backend,
          });
        }
      } else if (value instanceof ArrayBuffer) record[name] = new TextDecoder().decode(value);
      else record[name] = value ?? null;
    }
    return parseStoredSession(this.mode, record, location);
  }

  #contentArgs(content: SessionContent<M>): Record<string, InValue> {
    const fields = MODE_FIELDS[this.mode];
    const args: Record<string, string | null> = {};
    for (const name of ["sessionId", "userId", "sessionName", ...fields.strings]) {
      args[snake(name)] = (content as Record<string, unknown>)[name] as string | null;
    }
    for (const name of fields.objects) {
      const value = (content as Record<string, unknown>)[name];
      args[snake(name)] = value === null ? null : JSON.stringify(value);
    }
    return args;
  }

  /** One row by primary key. */
  protected async doRead(sessionId: string): Promise<SessionOf<M> | null> {
    const client = await this.#connect();
    const result = await client.execute({ sql: this.#sql.read, args: [sessionId] });
    return result.rows[0] ? this.#toSession(result.rows[0]) : null;
  }

  #writeStatement(args: InArgs, context: WriteContext): InStatement {
    const all = { ...args, now: context.now, live: context.liveAfter } as Record<string, InValue>;
    if (context.expectedVersion === undefined) return { sql: this.#sql.upsert, args: all };
    if (context.expectedVersion === 0) return { sql: this.#sql.insertOnly, args: all };
    return { sql: this.#sql.updateIfVersion, args: { ...all, expected: context.expectedVersion } };
  }

  /** The stored session: the written content (copied via its JSON text) plus the stamps the row returned. */
  #written(content: SessionContent<M>, args: Record<string, InValue>, stamps: Row): SessionOf<M> {
    const session: Record<string, unknown> = { ...content };
    for (const name of MODE_FIELDS[this.mode].objects) {
      const text = args[snake(name)];
      session[name] = typeof text === "string" ? JSON.parse(text) : null;
    }
    session.createdAt = stamps["created_at"];
    session.updatedAt = stamps["updated_at"];
    session.version = stamps["version"];
    return session as unknown as SessionOf<M>;
  }

  /**
   * One statement per session: an `INSERT … ON CONFLICT DO UPDATE … WHERE`
   * (or `UPDATE … WHERE version = ?`) that writes only when the ownership and
   * version checks hold, returning only the stamps. Several sessions run as
   * one batch (one transaction, one round trip) where a guard after each
   * statement aborts the batch when it changed nothing. A refused write is
   * then read back to say why.
   */
  protected async doWrite(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    const client = await this.#connect();
    const args = batch.map((content) => this.#contentArgs(content));
    const statements = args.map((a) => this.#writeStatement(a, context));
    if (batch.length === 1) {
      const result = await client.execute(statements[0]!);
      if (result.rows[0]) return [this.#written(batch[0]!, args[0]!, result.rows[0])];
      return await this.#explainRefusal(batch, context);
    }
    try {
      const results = await client.batch(statements.flatMap((statement) => [statement, GUARD]), "write");
      return batch.map((content, i) => this.#written(content, args[i]!, results[2 * i]!.rows[0]!));
    } catch (error) {
      if (!isGuardError(error)) throw error;
      return await this.#explainRefusal(batch, context);
    }
  }

  /** Replays a refused write against the stored rows to throw the matching error. */
  async #explainRefusal(batch: SessionContent<M>[], context: WriteContext): Promise<never> {
    const staged = new Map<string, SessionOf<M> | null>();
    for (const content of batch) {
      if (!staged.has(content.sessionId)) {
        const stored = await this.doRead(content.sessionId);
        const live = stored && context.liveAfter !== null && stored.updatedAt <= context.liveAfter ? null : stored;
        staged.set(content.sessionId, live);
      }
      const previous = staged.get(content.sessionId) ?? null;
      checkWrite(content.sessionId, previous, content.userId, context.expectedVersion);
      staged.set(content.sessionId, applyUpsert(previous, content, undefined, context.now));
    }
    // The stored row changed between the refused write and this read.
    const id = batch[0]!.sessionId;
    throw new ConflictError(id, context.expectedVersion ?? -1, staged.get(id)?.version ?? 0, { backend: this.backend });
  }

  /** `DELETE … WHERE` ownership and TTL hold. */
  protected async doDelete(sessionId: string, context: ChangeContext): Promise<boolean> {
    const client = await this.#connect();
    const result = await client.execute({
      sql: this.#sql.delete,
      args: { id: sessionId, user: context.userId ?? null, live: context.liveAfter },
    });
    return result.rowsAffected > 0;
  }

  /** `UPDATE … RETURNING` in one statement. */
  protected async doRename(
    sessionId: string,
    sessionName: string | null,
    context: ChangeContext,
  ): Promise<SessionOf<M> | null> {
    const client = await this.#connect();
    const result = await client.execute({
      sql: this.#sql.rename,
      args: {
        id: sessionId,
        name: sessionName,
        user: context.userId ?? null,
        live: context.liveAfter,
        now: context.now,
      },
    });
    return result.rows[0] ? this.#toSession(result.rows[0]) : null;
  }

  #listStatement(query: ListQuery, columns = this.#sql.columns): { sql: string; args: (string | number)[] } {
    // Columns are qualified: the select list aliases them, and in ORDER BY an
    // alias would win over the indexed column and force a sort of every row.
    const t = `"${this.table}"`;
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (clause: string, value: string | number) => {
      where.push(`${t}.${clause}`);
      args.push(value);
    };
    if (query.userId !== undefined) add("user_id = ?", query.userId);
    if (query.entityId !== undefined) add(`${snake(MODE_FIELDS[this.mode].entity)} = ?`, query.entityId);
    if (query.sessionName !== undefined) add("session_name = ?", query.sessionName);
    if (query.createdAfter !== undefined) add("created_at > ?", query.createdAfter);
    if (query.createdBefore !== undefined) add("created_at < ?", query.createdBefore);
    if (query.updatedAfter !== undefined) add("updated_at > ?", query.updatedAfter);
    if (query.updatedBefore !== undefined) add("updated_at < ?", query.updatedBefore);
    if (query.liveAfter !== null) {
      // Unary + keeps the planner from choosing an updated_at index for the TTL test over the sort's index.
      where.push(`+${t}.updated_at > ?`);
      args.push(query.liveAfter);
    }
    const sort = `${t}.${snake(query.sortBy)}`;
    const direction = query.order === "asc" ? "ASC" : "DESC";
    if (query.after !== null) {
      where.push(`(${sort}, ${t}.session_id) ${query.order === "asc" ? ">" : "<"} (?, ?)`);
      args.push(query.after.value, query.after.sessionId);
    }
    const sql = `SELECT ${columns} FROM ${t}` +
      (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
      ` ORDER BY ${sort} ${direction}, ${t}.session_id ${direction} LIMIT ${query.limit + 1}`;
    return { sql, args };
  }

  /** One indexed range query: filters in `WHERE`, keyset `(sort, id) > (?, ?)`, `LIMIT n + 1`. */
  protected async doList(query: ListQuery): Promise<SessionOf<M>[]> {
    const client = await this.#connect();
    const result = await client.execute(this.#listStatement(query));
    return result.rows.map((row) => this.#toSession(row));
  }

  /** Ids and times only: the index covers them, no row is read. */
  protected override async doListKeys(query: ListQuery): Promise<SessionKey[]> {
    const client = await this.#connect();
    const t = `"${this.table}"`;
    const result = await client.execute(
      this.#listStatement(query, `${this.#sql.idColumn}, ${t}.created_at, ${t}.updated_at`),
    );
    return result.rows.map((row) => ({
      sessionId: row["session_id"] instanceof ArrayBuffer
        ? new TextDecoder().decode(row["session_id"])
        : String(row["session_id"]),
      createdAt: Number(row["created_at"]),
      updatedAt: Number(row["updated_at"]),
    }));
  }

  /**
   * SQLite's query plan for a `listSessions` call, one line per step: shows
   * which index serves a listing (no line should say `TEMP B-TREE`).
   */
  async explainList(options?: ListOptions): Promise<string[]> {
    const client = await this.#connect();
    await this.create();
    const { sql, args } = this.#listStatement(toListQuery(options, this.liveAfter(this.clock())));
    const result = await client.execute({ sql: `EXPLAIN QUERY PLAN ${sql}`, args });
    return result.rows.map((row) => String(row["detail"]));
  }

  /**
   * One batch (one transaction, one round trip): bump the version where the
   * ownership, TTL and version checks hold, guard, then one `INSERT` per run
   * numbered after the current last `seq`.
   */
  protected override async doAppendRuns(
    sessionId: string,
    runs: JsonObject[],
    context: AppendContext,
  ): Promise<AppendRunsResult> {
    const client = await this.#connect();
    const args = { id: sessionId, now: context.now, live: context.liveAfter, user: context.userId };
    const statements: InStatement[] = [
      { sql: this.#sql.bump, args: { ...args, expected: context.expectedVersion ?? null } },
      GUARD,
      ...runs.map((run) => ({
        sql: this.#sql.appendRun,
        args: { id: sessionId, now: context.now, run: JSON.stringify(run) },
      })),
      { sql: this.#sql.runCount, args: { id: sessionId } },
    ];
    try {
      const results = await client.batch(statements, "write");
      return {
        version: Number(results[0]!.rows[0]!["version"]),
        runCount: Number(results[results.length - 1]!.rows[0]!["run_count"]),
      };
    } catch (error) {
      if (!isGuardError(error)) throw error;
      const stored = await this.doRead(sessionId);
      if (stored === null || (context.liveAfter !== null && stored.updatedAt <= context.liveAfter)) {
        throw new SessionNotFoundError(sessionId, { backend: this.backend });
      }
      checkWrite(sessionId, stored, context.userId, context.expectedVersion);
      throw new ConflictError(sessionId, context.expectedVersion ?? -1, stored.version, { backend: this.backend });
    }
  }

  /** One query joining the runs to their live session. */
  protected override async doGetRuns(sessionId: string, query: RunQuery): Promise<RunRecord[]> {
    const client = await this.#connect();
    const asc = query.order === "asc";
    const result = await client.execute({
      sql: asc ? this.#sql.runsAsc : this.#sql.runsDesc,
      args: {
        id: sessionId,
        user: query.userId ?? null,
        live: query.liveAfter,
        after: query.afterSeq ?? (asc ? 0 : Number.MAX_SAFE_INTEGER),
        limit: query.limit + 1,
      },
    });
    return result.rows.map((row) => {
      let run: unknown;
      try {
        run = JSON.parse(String(row["run"]));
      } catch (error) {
        throw new CorruptRecordError(
          `${this.table}_runs row ${JSON.stringify(sessionId)} seq ${row["seq"]}`,
          "not JSON",
          {
            cause: error,
            backend: this.backend,
          },
        );
      }
      return { seq: Number(row["seq"]), createdAt: Number(row["created_at"]), run: run as JsonObject };
    });
  }

  /**
   * One batch: per session an `INSERT … ON CONFLICT DO UPDATE` that replaces
   * only an expired row (or any row with `"overwrite"`), a guard when existing
   * rows must not be kept, then its runs. With `"skip"`, live ids are looked up
   * first and left out; a session created in between makes the guard abort
   * the batch, and the import is retried once.
   */
  protected override async doImport(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: "skip" | "overwrite" | "fail",
    liveAfter: number | null,
  ): Promise<ImportResult> {
    const client = await this.#connect();
    for (let attempt = 0;; attempt++) {
      let todo = entries;
      if (onConflict === "skip") {
        const live = await Promise.all(entries.map((e) => this.doRead(e.session.sessionId)));
        todo = entries.filter((_, i) => live[i] === null || (liveAfter !== null && live[i]!.updatedAt <= liveAfter));
      }
      const statements = todo.flatMap(({ session, runs }): InStatement[] => [
        {
          sql: this.#sql.importRow,
          args: {
            ...this.#contentArgs(session),
            created: session.createdAt,
            updated: session.updatedAt,
            version: session.version,
            overwrite: onConflict === "overwrite" ? 1 : 0,
            live: liveAfter,
          },
        },
        ...(onConflict === "overwrite" ? [] : [GUARD]),
        { sql: this.#sql.clearRuns, args: { id: session.sessionId } },
        ...runs.map((r) => ({
          sql: this.#sql.importRun,
          args: { id: session.sessionId, seq: r.seq, created: r.createdAt, run: JSON.stringify(r.run) },
        })),
      ]);
      try {
        if (statements.length > 0) await client.batch(statements, "write");
        return { imported: todo.length, skipped: entries.length - todo.length };
      } catch (error) {
        if (!isGuardError(error)) throw error;
        if (onConflict === "skip" && attempt === 0) continue;
        for (const { session } of todo) {
          const stored = await this.doRead(session.sessionId);
          if (stored && (liveAfter === null || stored.updatedAt > liveAfter)) {
            throw new ConflictError(session.sessionId, 0, stored.version, { backend: this.backend });
          }
        }
        throw error;
      }
    }
  }

  /** `DELETE … WHERE updated_at <= ?`. */
  protected async doPurge(liveAfter: number): Promise<number> {
    const client = await this.#connect();
    const result = await client.execute({
      sql: `DELETE FROM "${this.table}" WHERE updated_at <= ?`,
      args: [liveAfter],
    });
    return result.rowsAffected;
  }

  /** Drops this table and its schema record, nothing else. */
  protected async doDrop(): Promise<void> {
    const client = await this.#connect();
    await this.schemaVersion();
    await client.batch([
      `DROP TABLE IF EXISTS "${this.table}"`,
      `DROP TABLE IF EXISTS "${this.table}_runs"`,
      { sql: `DELETE FROM ${SCHEMA_TABLE} WHERE table_name = ?`, args: [this.table] },
    ], "write");
  }

  /** Closes the client unless the caller supplied it. */
  protected async doClose(): Promise<void> {
    const client = this.#client ?? (this.#connecting ? await this.#connecting.catch(() => null) : null);
    if (client && this.#ownsClient) client.close();
  }
}

/**
 * Creates a missing database file readable by its owner only (0600), before
 * SQLite creates it with the process umask; SQLite gives its WAL and shared
 * memory files the same permissions. An existing file is left as it is.
 */
async function createPrivateFile(url: string): Promise<void> {
  const path = decodeURIComponent(url.replace(/^file:(\/\/(?=\/))?/, "").replace(/[?#].*$/, ""));
  if (path === "" || path === ":memory:") return;
  const fs = await import("node:fs/promises");
  const handle = await fs.open(path, "a", 0o600);
  await handle.close();
}

/** Fails the batch (and so rolls it back) when the statement before it changed no row. */
const GUARD = "SELECT CASE WHEN changes() = 0 THEN json('agentstate: write refused') END";

function isGuardError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (/malformed JSON/i.test(e.message)) return true;
  }
  return false;
}

/**
 * The select list. The driver reads TEXT as a C string, cutting it at the first
 * NUL, so a text value holding a NUL is returned as its UTF-8 bytes instead.
 */
function selectList(columns: string[], jsonColumns: string[]): string {
  return columns.map((c) =>
    jsonColumns.includes(c) || ["created_at", "updated_at", "version"].includes(c)
      ? c
      : `CASE WHEN instr(CAST(${c} AS BLOB), x'00') > 0 THEN CAST(${c} AS BLOB) ELSE ${c} END AS ${c}`
  ).join(", ");
}

function buildSql(table: string, columns: string[], jsonColumns: string[]) {
  const t = `"${table}"`;
  const content = columns.filter((c) => !["created_at", "updated_at", "version"].includes(c));
  const values = content.map((c) => `:${c}`).join(", ");
  const all = selectList(columns, jsonColumns);
  const stamps = "created_at, updated_at, version";
  const runs = `"${table}_runs"`;
  const runsPage = (op: string, direction: string) =>
    `SELECT r.seq, r.created_at, r.run FROM ${runs} r JOIN ${t} s ON s.session_id = r.session_id ` +
    `WHERE r.session_id = :id AND (:user IS NULL OR s.user_id = :user) AND (:live IS NULL OR s.updated_at > :live) ` +
    `AND r.seq ${op} :after ORDER BY r.seq ${direction} LIMIT :limit`;
  const set = content.filter((c) => c !== "session_id").map((c) => `${c} = excluded.${c}`).join(", ");
  const insert = `INSERT INTO ${t} (${content.join(", ")}, created_at, updated_at, version) ` +
    `VALUES (${values}, :now, :now, 1) ON CONFLICT (session_id) DO UPDATE SET ${set}, `;
  // An expired row (updated_at <= :live) is replaced as if absent.
  const expired = `${t}.updated_at <= :live`;
  const restart = `created_at = CASE WHEN ${expired} THEN excluded.created_at ELSE ${t}.created_at END, ` +
    `updated_at = excluded.updated_at, version = CASE WHEN ${expired} THEN 1 ELSE ${t}.version + 1 END`;
  const live = "(:live IS NULL OR updated_at > :live)";
  return {
    columns: all,
    idColumn: selectList(["session_id"], []),
    read: `SELECT ${all} FROM ${t} WHERE ${t}.session_id = ?`,
    upsert: `${insert}${restart} WHERE ${expired} OR ${t}.user_id IS NULL OR ${t}.user_id IS excluded.user_id ` +
      `RETURNING ${stamps}`,
    insertOnly: `${insert}${restart} WHERE ${expired} RETURNING ${stamps}`,
    updateIfVersion:
      `UPDATE ${t} SET ${content.filter((c) => c !== "session_id").map((c) => `${c} = :${c}`).join(", ")}, ` +
      `updated_at = :now, version = version + 1 WHERE session_id = :session_id AND version = :expected AND ${live} ` +
      `AND (user_id IS NULL OR user_id IS :user_id) RETURNING ${stamps}`,
    delete: `DELETE FROM ${t} WHERE session_id = :id AND (:user IS NULL OR user_id = :user) AND ${live}`,
    bump: `UPDATE ${t} SET updated_at = :now, version = version + 1 WHERE session_id = :id AND ${live} ` +
      `AND (user_id IS NULL OR user_id IS :user) AND (:expected IS NULL OR version = :expected) RETURNING version`,
    appendRun: `INSERT INTO ${runs} (session_id, seq, created_at, run) ` +
      `SELECT :id, coalesce(max(seq), 0) + 1, :now, :run FROM ${runs} WHERE session_id = :id`,
    runCount: `SELECT coalesce(max(seq), 0) AS run_count FROM ${runs} WHERE session_id = :id`,
    runsAsc: runsPage(">", "ASC"),
    runsDesc: runsPage("<", "DESC"),
    importRow: `INSERT INTO ${t} (${columns.join(", ")}) VALUES (${values}, :created, :updated, :version) ` +
      `ON CONFLICT (session_id) DO UPDATE SET ${set}, created_at = excluded.created_at, ` +
      `updated_at = excluded.updated_at, version = excluded.version WHERE :overwrite OR ${expired}`,
    clearRuns: `DELETE FROM ${runs} WHERE session_id = :id`,
    importRun: `INSERT INTO ${runs} (session_id, seq, created_at, run) VALUES (:id, :seq, :created, :run)`,
    rename: `UPDATE ${t} SET session_name = :name, updated_at = :now, version = version + 1 ` +
      `WHERE session_id = :id AND (:user IS NULL OR user_id = :user) AND ${live} RETURNING ${all}`,
  };
}
