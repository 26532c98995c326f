/**
 * The SQL engine: every {@linkcode SessionDriver} primitive written once over
 * a {@linkcode SqlDialect} (the SQL text) and a {@linkcode SqlExecutor} (the
 * driver). Each write is one statement whose `WHERE` holds the ownership,
 * version and TTL rule; a refused write is read back and explained by
 * `checkWrite`, so the rule's TypeScript form exists once, in session/stamp.ts.
 *
 * @module
 */
import type {
  AppendContext,
  ChangeContext,
  EditContext,
  ImportConflict,
  NewRun,
  RunEdit,
  RunQuery,
  SessionDriver,
  SessionKey,
  StoredRun,
  WriteContext,
} from "../../session/driver.ts";
import { ConflictError, StorageError } from "../../session/errors.ts";
import type { ListQuery } from "../../session/list.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import type { SessionContent } from "../../session/parse.ts";
import { applyUpsert, checkWrite } from "../../session/stamp.ts";
import type { AppendRunsResult, ImportResult, SessionExport, SessionMode, SessionOf } from "../../session/types.ts";
import { bindStatement, type NamedArgs, type NamedStatement, type SqlDialect } from "./dialect.ts";
import { type SqlExecutor, SqlRefusedError, type SqlResult, type SqlRow, type SqlStatement } from "./executor.ts";
import { rowsToRuns, rowToRun, rowToSession, sessionArgs, storedText } from "./rows.ts";
import { appendWrite, editWrite, explainAppend, explainEdit, importSteps, type RunLookup } from "./runs.ts";
import { commitWrite, type SqlWrite } from "./commit.ts";
import { migrate } from "./migrate.ts";
import { leanUpsert } from "./upsert.ts";

/** How an {@linkcode SqlEngine} behaves beyond its dialect and executor. */
export interface SqlEngineOptions {
  /** The layout version the dialect's migrations reach. */
  schemaVersion: number;
  /** The time stamped on the schema record. */
  clock: () => number;
  /**
   * Records an id with every write, in the write's transaction, so a request
   * the network re-sends returns the first result instead of running twice.
   */
  idempotent: boolean;
  /** Refuses every write and creates nothing (the executor opened the database read-only). */
  readOnly: boolean;
  /**
   * Statements cost no round trip (an embedded connection): an upsert runs as
   * a transaction trying the lean update before the full statement.
   */
  local: boolean;
}

const note = (sql: string, args: NamedArgs = {}): NamedStatement => ({ sql, args });

/** The session driver over an SQL dialect and executor. */
export class SqlEngine<M extends SessionMode> implements SessionDriver<M> {
  readonly #mode: M;
  readonly #dialect: SqlDialect;
  readonly #open: () => Promise<SqlExecutor>;
  readonly #options: SqlEngineOptions;
  #executor: Promise<SqlExecutor> | null = null;

  /** `open` is called on first use (again after a failure). */
  constructor(mode: M, dialect: SqlDialect, open: () => Promise<SqlExecutor>, options: SqlEngineOptions) {
    this.#mode = mode;
    this.#dialect = dialect;
    this.#open = open;
    this.#options = options;
  }

  /** The executor, opened on first use. */
  executor(): Promise<SqlExecutor> {
    this.#executor ??= this.#open().catch((error) => {
      this.#executor = null;
      throw error;
    });
    return this.#executor;
  }

  #bind(sql: string, args: NamedArgs): SqlStatement {
    return bindStatement(this.#dialect, { sql, args });
  }

  async #query(sql: string, args: NamedArgs): Promise<SqlResult> {
    return await (await this.executor()).query(this.#bind(sql, args));
  }

  #writable(): void {
    if (this.#options.readOnly) {
      throw new StorageError("the database is open read-only (readOnly: true): writes are refused");
    }
  }

  /** The layout version recorded for the table (`0`: not created). */
  async schemaVersion(): Promise<number> {
    const schema = this.#dialect.schema;
    if (!this.#options.readOnly) await this.#query(schema.create, {});
    try {
      const result = await this.#query(schema.read, { table: this.#dialect.table });
      return Number(result.rows[0]?.["version"] ?? 0);
    } catch (error) {
      if (this.#options.readOnly && /no such table/i.test(String(error))) return 0;
      throw error;
    }
  }

  /** Applies the missing migrations, each in one batch claiming its version, so concurrent calls apply it once. */
  async create(): Promise<void> {
    const target = this.#options.schemaVersion;
    if (this.#options.readOnly) {
      const version = await this.schemaVersion();
      if (version === target) return;
      throw new StorageError(
        `table ${this.#dialect.table} has layout version ${version}, not ${target}; open it once without readOnly to ` +
          (version === 0 ? "create it" : "migrate it"),
      );
    }
    const executor = await this.executor();
    if (this.#options.idempotent) {
      for (const sql of this.#dialect.ops.create) await executor.query(this.#bind(sql, {}));
    }
    await migrate(executor, this.#dialect, this.#mode, {
      target,
      now: this.#options.clock,
      version: () => this.schemaVersion(),
    });
  }

  async read(sessionId: string): Promise<SessionOf<M> | null> {
    const result = await this.#query(this.#dialect.read, { id: sessionId });
    return result.rows[0] ? this.#toSession(result.rows[0]) : null;
  }

  #toSession(row: SqlRow): SessionOf<M> {
    return rowToSession(this.#mode, this.#dialect.table, this.#dialect.columns, row);
  }

  #contentArgs(content: SessionContent<M>): NamedArgs {
    return sessionArgs(this.#mode, this.#dialect.columns, content);
  }

  async #commit<T>(write: SqlWrite<T>): Promise<T> {
    this.#writable();
    return await commitWrite(await this.executor(), this.#dialect, write, this.#options.idempotent);
  }

  async write(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    const d = this.#dialect;
    const args: NamedArgs[] = batch.map((c) => ({
      ...this.#contentArgs(c),
      now: context.now,
      live: context.liveAfter,
    }));
    const sql = context.expectedVersion === undefined
      ? d.upsert
      : context.expectedVersion === 0
      ? d.insertOnly
      : d.updateIfVersion;
    const stamped = (stamps: unknown[][]) =>
      batch.map((content, i) => {
        const [createdAt, updatedAt, version] = stamps[i]!;
        // Copied via the JSON text written, so the caller's objects are not shared.
        const session: Record<string, unknown> = { ...content, createdAt, updatedAt, version };
        for (const name of MODE_FIELDS[this.#mode].objects) {
          const text = args[i]![d.columns[MODE_FIELDS[this.#mode].all.indexOf(name)]!];
          session[name] = typeof text === "string" ? JSON.parse(text) : null;
        }
        return session as unknown as SessionOf<M>;
      });
    const expected = context.expectedVersion ?? null;
    try {
      if (this.#options.local) {
        // A local connection: one transaction trying the lean update first, the full statement when it changes nothing.
        this.#writable();
        return stamped(await leanUpsert(await this.executor(), d, sql, args, expected));
      }
      return await this.#commit({
        steps: args.map((a) => ({ sql, args: { ...a, expected } })),
        mustChange: new Set(batch.map((_, i) => i)),
        notes: new Map(batch.map((c, i) => [i, [note(d.ops.noteStamps, { id: c.sessionId })]])),
        decode: (results) => {
          const rows = results.map((result) => result.rows[0]);
          if (rows.some((row) => row === undefined)) throw new SqlRefusedError();
          return stamped(rows.map((row) => [row!["created_at"], row!["updated_at"], row!["version"]]));
        },
        replay: (recorded) => stamped(recorded as unknown[][]),
      });
    } catch (error) {
      if (!(error instanceof SqlRefusedError)) throw error;
      return await this.#explainRefusal(batch, context, error);
    }
  }

  /** Replays a refused write against the stored rows with `checkWrite`, which throws the matching error. */
  async #explainRefusal(batch: SessionContent<M>[], context: WriteContext, refusal: Error): Promise<never> {
    const staged = new Map<string, SessionOf<M> | null>();
    for (const content of batch) {
      if (!staged.has(content.sessionId)) staged.set(content.sessionId, await this.#live(content.sessionId, context));
      const previous = staged.get(content.sessionId) ?? null;
      checkWrite(content.sessionId, previous, content.userId, context.expectedVersion);
      staged.set(content.sessionId, applyUpsert(previous, content, undefined, context.now));
    }
    // The stored rows changed between the refused write and this read: the write may be retried.
    throw new StorageError("the write was refused, but the stored sessions now allow it; retry", { cause: refusal });
  }

  async #live(sessionId: string, context: { liveAfter: number | null }): Promise<SessionOf<M> | null> {
    const stored = await this.read(sessionId);
    return stored && context.liveAfter !== null && stored.updatedAt <= context.liveAfter ? null : stored;
  }

  async delete(sessionId: string, context: ChangeContext): Promise<boolean> {
    const d = this.#dialect;
    const args = { id: sessionId, user: context.userId ?? null, live: context.liveAfter };
    return await this.#commit({
      steps: [{ sql: d.delete, args }],
      notes: new Map([[0, [note(d.ops.noteChanges)]]]),
      decode: ([result]) => result!.rowsAffected > 0,
      replay: (recorded) => Number(recorded[0]) > 0,
    });
  }

  async rename(sessionId: string, sessionName: string | null, context: ChangeContext): Promise<SessionOf<M> | null> {
    const d = this.#dialect;
    const args = {
      id: sessionId,
      name: sessionName,
      user: context.userId ?? null,
      live: context.liveAfter,
      now: context.now,
    };
    return await this.#commit({
      steps: [{ sql: d.rename, args }],
      notes: new Map([[0, [note(d.ops.noteChanges)]]]),
      decode: ([result]) => result!.rows[0] ? this.#toSession(result!.rows[0]) : null,
      // Renamed before the reply was lost: the session as it is now.
      replay: async (recorded) => Number(recorded[0]) > 0 ? await this.read(sessionId) : null,
    });
  }

  async list(query: ListQuery): Promise<SessionOf<M>[]> {
    const { sql, args } = this.#dialect.list(query, false);
    return (await this.#query(sql, args)).rows.map((row) => this.#toSession(row));
  }

  async listKeys(query: ListQuery): Promise<SessionKey[]> {
    const { sql, args } = this.#dialect.list(query, true);
    return (await this.#query(sql, args)).rows.map((row) => {
      const sessionId = storedText(row["session_id"], `${this.#dialect.table} index`, "session_id");
      return {
        sessionId: String(sessionId),
        createdAt: Number(row["created_at"]),
        updatedAt: Number(row["updated_at"]),
      };
    });
  }

  /** The plan of a listing statement, one line per step. */
  explainList(query: ListQuery): Promise<string[]> {
    return this.#plan(this.#dialect.list(query, false));
  }

  async #plan(statement: NamedStatement): Promise<string[]> {
    const { sql, args } = this.#dialect.explain(statement);
    return (await this.#query(sql, args)).rows.map((row) => String(storedText(row["detail"], "plan", "detail")));
  }

  /** One batch (see {@linkcode appendWrite}); a refusal is explained from what is stored. */
  async appendRuns(sessionId: string, runs: NewRun[], context: AppendContext): Promise<AppendRunsResult> {
    try {
      return await this.#commit(appendWrite(this.#dialect, this.#mode, sessionId, runs, context));
    } catch (error) {
      if (!(error instanceof SqlRefusedError)) throw error;
      return await explainAppend(sessionId, runs, context, this.#lookup(context), error);
    }
  }

  /** One batch (see {@linkcode editWrite}); a refusal is explained from what is stored. */
  async editRuns(sessionId: string, edit: RunEdit, context: EditContext): Promise<AppendRunsResult> {
    try {
      return await this.#commit(editWrite(this.#dialect, sessionId, edit, context));
    } catch (error) {
      if (!(error instanceof SqlRefusedError)) throw error;
      return await explainEdit(sessionId, edit, context, this.#lookup(context), error);
    }
  }

  #lookup(context: { liveAfter: number | null }): RunLookup {
    return {
      live: (id) => this.#live(id, context),
      runByKey: (id, key) => this.getRun(id, key, { liveAfter: null }),
    };
  }

  async getRuns(sessionId: string, query: RunQuery): Promise<StoredRun[]> {
    const result = await this.#query(query.order === "asc" ? this.#dialect.runs.asc : this.#dialect.runs.desc, {
      id: sessionId,
      user: query.userId ?? null,
      live: query.liveAfter,
      above: query.seqAbove ?? 0,
      below: query.seqBelow ?? Number.MAX_SAFE_INTEGER,
      limit: query.limit + 1,
    });
    return rowsToRuns(this.#dialect.table, sessionId, result.rows, { ...query, limit: query.limit + 1 });
  }

  async getRun(
    sessionId: string,
    key: string,
    query: { userId?: string; liveAfter: number | null },
  ): Promise<StoredRun | null> {
    const result = await this.#query(this.#dialect.runByKey, {
      id: sessionId,
      key,
      user: query.userId ?? null,
      live: query.liveAfter,
    });
    return result.rows[0] ? rowToRun(this.#dialect.table, sessionId, result.rows[0]) : null;
  }

  /** The plans of the statements that find runs by key (a read, the keyed-append checks), one line per step. */
  async explainKeyed(): Promise<Record<"runByKey" | "keysFree" | "keysKept", string[]>> {
    const d = this.#dialect;
    const keys = JSON.stringify([["k", "d"]]);
    return {
      runByKey: await this.#plan({ sql: d.runByKey, args: { id: "s", key: "k", user: null, live: null } }),
      keysFree: await this.#plan({ sql: d.keysFree, args: { id: "s", keys } }),
      keysKept: await this.#plan({ sql: d.keysKept, args: { id: "s", keys, keep: 0 } }),
    };
  }

  /**
   * One batch: per session an import statement that replaces only an expired
   * row (or any row with `"overwrite"`), refused otherwise, then its runs.
   * With `"skip"`, live ids are looked up first and left out; a session
   * created in between refuses the batch, and the import is retried once.
   */
  async importSessions(
    entries: SessionExport<SessionOf<M>, StoredRun>[],
    onConflict: ImportConflict,
    liveAfter: number | null,
  ): Promise<ImportResult> {
    const d = this.#dialect;
    for (let attempt = 0;; attempt++) {
      let todo = entries;
      if (onConflict === "skip") {
        const live = await Promise.all(entries.map((e) => this.#live(e.session.sessionId, { liveAfter })));
        todo = entries.filter((_, i) => live[i] === null);
      }
      const result = { imported: todo.length, skipped: entries.length - todo.length };
      if (todo.length === 0) return result;
      const { steps, mustChange } = importSteps(d, this.#mode, todo, onConflict, liveAfter);
      try {
        return await this.#commit({
          steps,
          mustChange,
          initial: [result.imported, result.skipped],
          decode: () => result,
          replay: (recorded) => ({ imported: Number(recorded[0]), skipped: Number(recorded[1]) }),
        });
      } catch (error) {
        if (!(error instanceof SqlRefusedError)) throw error;
        if (onConflict === "skip" && attempt === 0) continue;
        for (const { session } of todo) {
          const stored = await this.#live(session.sessionId, { liveAfter });
          if (stored) throw new ConflictError(session.sessionId, 0, stored.version);
        }
        throw new StorageError("the import was refused, but no session is in the way now; retry", { cause: error });
      }
    }
  }

  async purge(liveAfter: number): Promise<number> {
    const d = this.#dialect;
    return await this.#commit({
      steps: [{ sql: d.purge, args: { live: liveAfter } }],
      notes: new Map([[0, [note(d.ops.noteChanges)]]]),
      decode: ([result]) => result!.rowsAffected,
      replay: (recorded) => Number(recorded[0]),
    });
  }

  async drop(): Promise<void> {
    this.#writable();
    const executor = await this.executor();
    await this.schemaVersion();
    await executor.batch([
      ...this.#dialect.drop.map((sql) => this.#bind(sql, {})),
      this.#bind(this.#dialect.schema.forget, { table: this.#dialect.table }),
    ]);
  }

  async close(): Promise<void> {
    const executor = this.#executor ? await this.#executor.catch(() => null) : null;
    this.#executor = null;
    await executor?.close();
  }
}
