/**
 * {@linkcode BaseSessionStorage}: the argument checking, TTL, paging,
 * encryption and error wrapping every backend shares. A backend extends it and
 * hands it a {@linkcode SessionDriver}, which only stores and fetches.
 *
 * @module
 */
import { decodeRunCursor, encodeRunCursor } from "./cursor.ts";
import { ConflictError, SessionNotFoundError, StorageError, ValidationError, type ValidationIssue } from "./errors.ts";
import { checkJson, cloneJson } from "./_json.ts";
import { isExpired, type ListQuery, MAX_PAGE_SIZE, toListQuery, toPage } from "./list.ts";
import { checkMode, MODE_FIELDS } from "./modes.ts";
import type { AppendContext, ChangeContext, RunQuery, SessionDriver, WriteContext } from "./driver.ts";
import { FieldCipher } from "./encryption.ts";
import {
  checkId,
  checkInteger,
  checkOptionalId,
  checkOptions,
  checkSessionName,
  parseSessionInput,
  parseSessionRecord,
} from "./parse.ts";
import type {
  AppendRunsOptions,
  AppendRunsResult,
  BaseStorageOptions,
  GetRunsOptions,
  ImportOptions,
  ImportResult,
  JsonObject,
  ListOptions,
  RecentOptions,
  RunPage,
  RunRecord,
  SessionExport,
  SessionFilter,
  SessionInputOf,
  SessionMode,
  SessionOf,
  SessionPage,
  SessionStorage,
  StorageCapabilities,
  UpsertOptions,
  UserOption,
} from "./types.ts";

/** The option keys every backend's constructor takes. */
const BASE_OPTION_KEYS = ["mode", "ttlMs", "clock", "encryptionKey"] as const;

/**
 * Base class of the backends. Public methods check their arguments (option
 * objects included: an unknown key is a `ValidationError`), create the storage
 * on first use, apply the TTL and encryption, and turn unexpected failures into
 * `StorageError`s naming the backend; the driver does the storing.
 *
 * @typeParam M The mode of the sessions held.
 */
export abstract class BaseSessionStorage<M extends SessionMode = "agent">
  implements SessionStorage<SessionOf<M>, SessionInputOf<M>> {
  /** The mode of the sessions held. */
  readonly mode: M;
  /** Name of the backend, used in error messages. */
  readonly backend: string;
  /** Milliseconds after the last write when a session expires, or `null`. */
  readonly ttlMs: number | null;
  /** What this backend can do. */
  abstract readonly capabilities: StorageCapabilities;
  /** Source of the current time. */
  protected readonly clock: () => number;
  #ready: Promise<void> | null = null;
  #closed = false;
  #cipher: FieldCipher | null;
  #driver: SessionDriver<M>;

  /**
   * Checks the options (those of every backend plus `optionKeys`, the
   * backend's own), then builds the driver for the checked mode.
   */
  constructor(
    backend: string,
    options: BaseStorageOptions<M> | undefined,
    optionKeys?: readonly string[],
    makeDriver?: (mode: M) => SessionDriver<M>,
  ) {
    this.backend = backend;
    checkOptions(options, [...BASE_OPTION_KEYS, ...(optionKeys ?? LEGACY_OPTION_KEYS)], `${backend} options`);
    this.mode = checkMode(options?.mode) as M;
    this.ttlMs = checkInteger(options?.ttlMs, "ttlMs", 1, Number.MAX_SAFE_INTEGER) ?? null;
    if (options?.clock !== undefined && typeof options.clock !== "function") {
      throw new ValidationError([{ path: ["clock"], message: "expected a function returning epoch milliseconds" }]);
    }
    this.clock = options?.clock ?? Date.now;
    this.#cipher = options?.encryptionKey === undefined ? null : new FieldCipher(options.encryptionKey, this.mode);
    this.#driver = makeDriver ? makeDriver(this.mode) : legacyDriver(this as unknown as LegacyHooks<M>);
  }

  // TRANSITIONAL (removed once every backend hands over a driver).
  /** Legacy hook: ids and times of a listing. */
  protected doListKeys?(query: ListQuery): Promise<import("./driver.ts").SessionKey[]>;
  /** Legacy hook: appends runs. */
  protected doAppendRuns?(...args: unknown[]): Promise<AppendRunsResult>;
  /** Legacy hook: reads runs. */
  protected doGetRuns?(...args: unknown[]): Promise<RunRecord[]>;
  /** Legacy hook: imports sessions. */
  protected doImport?(...args: unknown[]): Promise<ImportResult>;

  /** Encrypts the content fields when an `encryptionKey` is set. */
  async #seal<T extends { sessionId: string }>(content: T): Promise<T> {
    return this.#cipher === null ? content : await this.#cipher.seal(content, MODE_FIELDS[this.mode].objects);
  }

  /** Decrypts what {@linkcode BaseSessionStorage.#seal} encrypted. */
  async #open<T extends { sessionId: string } | null>(session: T): Promise<T> {
    if (this.#cipher === null || session === null) return session;
    return await this.#cipher.open(session, MODE_FIELDS[this.mode].objects);
  }

  #openAll<T extends { sessionId: string }>(sessions: T[]): Promise<T[]> {
    return this.#cipher === null ? Promise.resolve(sessions) : Promise.all(sessions.map((s) => this.#open(s)));
  }

  async #sealRuns(sessionId: string, runs: RunRecord[]): Promise<RunRecord[]> {
    const cipher = this.#cipher;
    if (cipher === null) return runs;
    return await Promise.all(runs.map(async (r) => ({ ...r, run: await cipher.sealRun(r.run, sessionId, r.seq) })));
  }

  async #openRuns(sessionId: string, runs: RunRecord[]): Promise<RunRecord[]> {
    const cipher = this.#cipher;
    if (cipher === null) return runs;
    return await Promise.all(runs.map(async (r) => ({ ...r, run: await cipher.openRun(r.run, sessionId, r.seq) })));
  }

  /**
   * Appends encrypted runs: each is bound to the `seq` it will get, so the
   * log's length is read first and the append made conditional on the version
   * read with it. When someone else wrote meanwhile, it starts again (unless
   * the caller gave `expectedVersion`: then the `ConflictError` is theirs).
   */
  async #appendSealed(sessionId: string, runs: JsonObject[], context: AppendContext): Promise<AppendRunsResult> {
    for (;;) {
      const current = await this.#driver.read(sessionId);
      if (current === null || isExpired(current, context.liveAfter)) throw new SessionNotFoundError(sessionId);
      const attempt = { ...context, expectedVersion: context.expectedVersion ?? current.version };
      const [last] = await this.#driver.getRuns(sessionId, {
        afterSeq: null,
        limit: 1,
        order: "desc",
        liveAfter: context.liveAfter,
      });
      const first = (last?.seq ?? 0) + 1;
      const sealed = await this.#sealRuns(sessionId, runs.map((run, i) => ({ seq: first + i, createdAt: 0, run })));
      try {
        return await this.#driver.appendRuns(sessionId, sealed.map((r) => r.run), attempt);
      } catch (error) {
        if (!(error instanceof ConflictError) || context.expectedVersion !== undefined) throw error;
      }
    }
  }

  /** The `updatedAt` at or below which sessions are expired now, or `null` without TTL. */
  protected liveAfter(now: number): number | null {
    return this.ttlMs === null ? null : now - this.ttlMs;
  }

  async #run<T>(operation: string, work: () => Promise<T>, create = true): Promise<T> {
    if (this.#closed) throw new StorageError(`${this.backend}: storage is closed`, { backend: this.backend });
    try {
      if (create) await this.#ensureCreated();
      return await work();
    } catch (error) {
      if (error instanceof StorageError) {
        // Errors raised by shared code (ConflictError, CorruptRecordError …) learn which backend they came from.
        if (error.backend === undefined) (error as { backend: string | undefined }).backend = this.backend;
        throw error;
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new StorageError(`${this.backend}: ${operation} failed: ${message}`, {
        cause: error,
        backend: this.backend,
      });
    }
  }

  #ensureCreated(): Promise<void> {
    if (this.#ready === null) {
      this.#ready = this.#driver.create().catch((error) => {
        this.#ready = null;
        throw error;
      });
    }
    return this.#ready;
  }

  /** Creates tables, indexes or directories and applies migrations. Idempotent. */
  async create(): Promise<void> {
    return await this.#run("create", async () => {
      this.#ready = null;
      await this.#ensureCreated();
    }, false);
  }

  /** The session, or `null` when absent, expired, or owned by another user than `userId`. */
  async read(sessionId: string, userId?: string): Promise<SessionOf<M> | null> {
    const id = checkId(sessionId, "sessionId");
    const user = checkOptionalId(userId, "userId");
    return await this.#run("read", async () => {
      const session = await this.#open(await this.#driver.read(id));
      if (session === null || isExpired(session, this.liveAfter(this.clock()))) return null;
      if (user !== undefined && session.userId !== user) return null;
      return session;
    });
  }

  /** Inserts or updates a session; throws `ConflictError` or `UserMismatchError` without writing. */
  async upsert(input: SessionInputOf<M>, options?: UpsertOptions): Promise<SessionOf<M>> {
    const content = parseSessionInput(this.mode, input);
    checkOptions(options, ["expectedVersion"], "upsert options");
    const expectedVersion = checkInteger(options?.expectedVersion, "expectedVersion", 0, Number.MAX_SAFE_INTEGER);
    return await this.#run("upsert", async () => {
      const now = this.clock();
      const context: WriteContext = { now, liveAfter: this.liveAfter(now) };
      if (expectedVersion !== undefined) context.expectedVersion = expectedVersion;
      const [stored] = await this.#openAll(await this.#driver.write([await this.#seal(content)], context));
      return stored!;
    });
  }

  /** Upserts several sessions in order; all or nothing where `capabilities.atomicBatch`. */
  async upsertMany(inputs: SessionInputOf<M>[], ...noOptions: never[]): Promise<SessionOf<M>[]> {
    if (!Array.isArray(inputs)) throw new ValidationError([{ path: [], message: "expected an array of sessions" }]);
    if (noOptions.some((extra) => extra !== undefined)) {
      throw new ValidationError([{
        path: ["options"],
        message: "upsertMany takes no options (expectedVersion is upsert's)",
      }]);
    }
    const batch = inputs.map((input, i) => {
      try {
        return parseSessionInput(this.mode, input);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        throw new ValidationError(error.issues.map((issue) => ({ ...issue, path: [i, ...issue.path] })), {
          cause: error,
        });
      }
    });
    return await this.#run("upsertMany", async () => {
      if (batch.length === 0) return [];
      const now = this.clock();
      const sealed = await Promise.all(batch.map((content) => this.#seal(content)));
      return await this.#openAll(await this.#driver.write(sealed, { now, liveAfter: this.liveAfter(now) }));
    });
  }

  #changeContext(options: UserOption | undefined, method: string): ChangeContext {
    checkOptions(options, ["userId"], `${method} options`);
    const now = this.clock();
    const context: ChangeContext = { now, liveAfter: this.liveAfter(now) };
    const userId = checkOptionalId(options?.userId, "userId");
    if (userId !== undefined) context.userId = userId;
    return context;
  }

  /** Deletes a session; `true` when a live session was deleted. */
  async deleteSession(sessionId: string, options?: UserOption): Promise<boolean> {
    const id = checkId(sessionId, "sessionId");
    const context = this.#changeContext(options, "deleteSession");
    return await this.#run("deleteSession", () => this.#driver.delete(id, context));
  }

  /** Sets the session's name and bumps its version; `null` when absent. */
  async renameSession(
    sessionId: string,
    sessionName: string | null,
    options?: UserOption,
  ): Promise<SessionOf<M> | null> {
    const id = checkId(sessionId, "sessionId");
    const name = checkSessionName(sessionName);
    const context = this.#changeContext(options, "renameSession");
    return await this.#run("renameSession", async () => await this.#open(await this.#driver.rename(id, name, context)));
  }

  /** One page of matching sessions; pass `nextCursor` back for the next. */
  async listSessions(options?: ListOptions): Promise<SessionPage<SessionOf<M>>> {
    const query = toListQuery(options, null);
    return await this.#run("listSessions", async () => {
      query.liveAfter = this.liveAfter(this.clock());
      return toPage(await this.#openAll(await this.#driver.list(query)), query);
    });
  }

  /** Every matching session, newest `createdAt` first (read page by page). */
  async getAllSessions(filter?: SessionFilter): Promise<SessionOf<M>[]> {
    checkOptions(filter, FILTER_KEYS, "getAllSessions filter");
    const all: SessionOf<M>[] = [];
    let cursor: string | null = null;
    do {
      const page: SessionPage<SessionOf<M>> = await this.listSessions({
        ...pickFilter(filter),
        limit: MAX_PAGE_SIZE,
        cursor,
      });
      all.push(...page.sessions);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return all;
  }

  /** Ids of every matching session, newest `createdAt` first (read page by page, without loading sessions where the backend can). */
  async getAllSessionIds(filter?: SessionFilter): Promise<string[]> {
    checkOptions(filter, FILTER_KEYS, "getAllSessionIds filter");
    const base = toListQuery({ ...pickFilter(filter), limit: MAX_PAGE_SIZE }, null);
    return await this.#run("getAllSessionIds", async () => {
      const ids: string[] = [];
      const query: ListQuery = { ...base, liveAfter: this.liveAfter(this.clock()) };
      for (;;) {
        const rows = await (this.#driver.listKeys ?? this.#driver.list).call(this.#driver, query);
        const page = rows.slice(0, query.limit);
        ids.push(...page.map((row) => row.sessionId));
        if (rows.length <= query.limit) return ids;
        const last = page[page.length - 1]!;
        query.after = { value: last.createdAt, sessionId: last.sessionId };
      }
    });
  }

  /** The `limit` (default 2) newest matching sessions by `createdAt`. */
  async getRecentSessions(options?: RecentOptions): Promise<SessionOf<M>[]> {
    checkOptions(options, [...FILTER_KEYS, "limit"], "getRecentSessions options");
    const limit = checkInteger(options?.limit, "limit", 1, MAX_PAGE_SIZE) ?? 2;
    const page = await this.listSessions({ ...pickFilter(options), limit, sortBy: "createdAt", order: "desc" });
    return page.sessions;
  }

  /** Appends runs to the session's log and bumps its version once; see `SessionStorage.appendRuns`. */
  async appendRuns(sessionId: string, runs: JsonObject[], options?: AppendRunsOptions): Promise<AppendRunsResult> {
    const id = checkId(sessionId, "sessionId");
    const checked = checkRuns(runs);
    checkOptions(options, ["userId", "expectedVersion"], "appendRuns options");
    const expectedVersion = checkInteger(options?.expectedVersion, "expectedVersion", 0, Number.MAX_SAFE_INTEGER);
    const userId = checkOptionalId(options?.userId, "userId") ?? null;
    return await this.#run("appendRuns", async () => {
      const now = this.clock();
      const context: AppendContext = { userId, now, liveAfter: this.liveAfter(now) };
      if (expectedVersion !== undefined) context.expectedVersion = expectedVersion;
      if (this.#cipher !== null) return await this.#appendSealed(id, checked, context);
      return await this.#driver.appendRuns(id, checked, context);
    });
  }

  /** A page of the session's runs by `seq`; see `SessionStorage.getRuns`. */
  async getRuns(sessionId: string, options?: GetRunsOptions): Promise<RunPage> {
    const id = checkId(sessionId, "sessionId");
    checkOptions(options, ["userId", "limit", "order", "cursor"], "getRuns options");
    const order = options?.order ?? "asc";
    if (order !== "asc" && order !== "desc") {
      throw new ValidationError([{ path: ["order"], message: 'expected "asc" or "desc"' }]);
    }
    const query: RunQuery = {
      afterSeq: options?.cursor == null ? null : decodeRunCursor(String(options.cursor), order),
      limit: checkInteger(options?.limit, "limit", 1, MAX_PAGE_SIZE) ?? 100,
      order,
      liveAfter: null,
    };
    const userId = checkOptionalId(options?.userId, "userId");
    if (userId !== undefined) query.userId = userId;
    return await this.#run("getRuns", async () => {
      query.liveAfter = this.liveAfter(this.clock());
      const rows = await this.#openRuns(id, await this.#driver.getRuns(id, query));
      if (rows.length <= query.limit) return { runs: rows, nextCursor: null };
      const runs = rows.slice(0, query.limit);
      return { runs, nextCursor: encodeRunCursor(order, runs[runs.length - 1]!.seq) };
    });
  }

  /** Restores sessions exactly as given, with their runs; see `SessionStorage.importSessions`. */
  async importSessions(entries: SessionExport<SessionOf<M>>[], options?: ImportOptions): Promise<ImportResult> {
    checkOptions(options, ["onConflict"], "importSessions options");
    const onConflict = options?.onConflict ?? "fail";
    if (onConflict !== "skip" && onConflict !== "overwrite" && onConflict !== "fail") {
      throw new ValidationError([{ path: ["onConflict"], message: 'expected "skip", "overwrite" or "fail"' }]);
    }
    if (!Array.isArray(entries)) throw new ValidationError([{ path: [], message: "expected an array of entries" }]);
    const checked = entries.map((entry, i) => checkExport(this.mode, entry, i));
    const ids = new Set<string>();
    for (const [i, entry] of checked.entries()) {
      if (ids.has(entry.session.sessionId)) {
        throw new ValidationError([{ path: [i, "session", "sessionId"], message: "appears twice in one import" }]);
      }
      ids.add(entry.session.sessionId);
    }
    return await this.#run("importSessions", async () => {
      if (checked.length === 0) return { imported: 0, skipped: 0 };
      const sealed = await Promise.all(
        checked.map(async ({ session, runs }) => ({
          session: await this.#seal(session),
          runs: await this.#sealRuns(session.sessionId, runs),
        })),
      );
      return await this.#driver.importSessions(sealed, onConflict, this.liveAfter(this.clock()));
    });
  }

  /** Deletes sessions not written for `ttlMs`; returns how many (`0` without TTL). */
  async purgeExpired(): Promise<number> {
    return await this.#run("purgeExpired", () => {
      const liveAfter = this.liveAfter(this.clock());
      return liveAfter === null ? Promise.resolve(0) : this.#driver.purge(liveAfter);
    });
  }

  /** Removes this storage's data; the next operation creates it afresh. */
  async drop(): Promise<void> {
    return await this.#run("drop", async () => {
      await this.#driver.drop();
      this.#ready = null;
    }, false);
  }

  /** Releases connections and handles; later calls throw. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#driver.close();
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Largest number of runs one `appendRuns` call takes. */
export const MAX_RUNS_PER_APPEND = 1000;

function checkRuns(runs: unknown): JsonObject[] {
  if (!Array.isArray(runs) || runs.length === 0 || runs.length > MAX_RUNS_PER_APPEND) {
    throw new ValidationError([{
      path: ["runs"],
      message: `expected an array of 1 to ${MAX_RUNS_PER_APPEND} JSON objects`,
    }]);
  }
  const issues: ValidationIssue[] = [];
  for (const [i, run] of runs.entries()) {
    if (typeof run !== "object" || run === null || Array.isArray(run)) {
      issues.push({ path: ["runs", i], message: "expected a JSON object" });
    } else checkJson(run, ["runs", i], issues);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return cloneJson(runs) as JsonObject[];
}

function checkExport<M extends SessionMode>(mode: M, entry: unknown, i: number): SessionExport<SessionOf<M>> {
  const prefix = (error: unknown): never => {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(error.issues.map((issue) => ({ ...issue, path: [i, ...issue.path] })), { cause: error });
  };
  const e = entry as { session?: unknown; runs?: unknown } | null;
  if (typeof e !== "object" || e === null) {
    prefix(new ValidationError([{ path: [], message: "expected { session, runs }" }]));
  }
  let session: SessionOf<M>;
  try {
    session = parseSessionRecord(mode, e!.session);
  } catch (error) {
    return prefix(error);
  }
  const runs = e!.runs ?? [];
  if (!Array.isArray(runs)) return prefix(new ValidationError([{ path: ["runs"], message: "expected an array" }]));
  const issues: ValidationIssue[] = [];
  for (const [k, record] of runs.entries()) {
    const r = record as Partial<RunRecord> | null;
    if (r?.seq !== k + 1) issues.push({ path: ["runs", k, "seq"], message: `expected ${k + 1} (runs count from 1)` });
    if (!Number.isSafeInteger(r?.createdAt) || r!.createdAt! < 0) {
      issues.push({ path: ["runs", k, "createdAt"], message: "expected epoch milliseconds" });
    }
    if (typeof r?.run !== "object" || r.run === null || Array.isArray(r.run)) {
      issues.push({ path: ["runs", k, "run"], message: "expected a JSON object" });
    } else checkJson(r.run, ["runs", k, "run"], issues);
    if (issues.length > 10) break;
  }
  if (issues.length > 0) prefix(new ValidationError(issues));
  return cloneJson({ session, runs: runs as RunRecord[] });
}

const FILTER_KEYS = ["userId", "entityId"] as const;

function pickFilter(filter: SessionFilter | undefined): SessionFilter {
  const out: SessionFilter = {};
  if (filter?.userId !== undefined) out.userId = filter.userId;
  if (filter?.entityId !== undefined) out.entityId = filter.entityId;
  return out;
}

// TRANSITIONAL: backends that do not pass their own option keys yet accept any of these (the union of theirs).
const LEGACY_OPTION_KEYS: readonly string[] = [
  ...["dir", "url", "authToken", "table", "client", "busyTimeoutMs", "web", "token", "prefix", "redis"],
  ...["retries", "maxRequestBytes", "dbName", "indexedDB", "keyRange", "blockedTimeoutMs"],
];

// TRANSITIONAL: the old protected hooks as a driver.
type LegacyHooks<M extends SessionMode> = Record<string, (...args: unknown[]) => Promise<unknown>> & { mode: M };
function legacyDriver<M extends SessionMode>(self: LegacyHooks<M>): SessionDriver<M> {
  const call = (name: string) => (...args: unknown[]) => self[name]!(...args);
  return {
    create: call("doCreate"),
    read: call("doRead"),
    write: call("doWrite"),
    delete: call("doDelete"),
    rename: call("doRename"),
    list: call("doList"),
    listKeys: (query: ListQuery) => (self.doListKeys ?? self.doList)!.call(self, query),
    appendRuns: call("doAppendRuns"),
    getRuns: call("doGetRuns"),
    importSessions: call("doImport"),
    purge: call("doPurge"),
    drop: call("doDrop"),
    close: call("doClose"),
  } as unknown as SessionDriver<M>;
}
