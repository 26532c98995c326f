/**
 * {@linkcode BaseSessionStorage}: the argument checking, TTL, paging,
 * encryption and error wrapping every backend shares. A backend extends it and
 * hands it a {@linkcode SessionDriver}, which only stores and fetches.
 *
 * @module
 */
import { StorageError, ValidationError } from "./errors.ts";
import { isExpired, type ListQuery, MAX_PAGE_SIZE, toListQuery, toPage } from "./list.ts";
import { checkMode } from "./modes.ts";
import type { ChangeContext, SessionDriver, WriteContext } from "./driver.ts";
import { checkImport } from "./import_check.ts";
import { checkId, checkInteger, checkOptionalId, checkOptions, checkSessionName, parseSessionInput } from "./parse.ts";
import { RunLog } from "./run_log.ts";
import { patchSession, updateSession } from "./updates.ts";
import { ContentSealer } from "./sealer.ts";
import type {
  AppendRunsOptions,
  AppendRunsResult,
  BaseStorageOptions,
  EditOptions,
  GetRunsOptions,
  ImportOptions,
  ImportResult,
  JsonObject,
  ListOptions,
  RecentOptions,
  ReplaceRunsInput,
  RunAddress,
  RunPage,
  RunRecord,
  RunRecordInput,
  SessionExport,
  SessionFilter,
  SessionMode,
  SessionPage,
  SessionPatch,
  SessionStorage,
  StorageCapabilities,
  TypedInput,
  TypedSession,
  UpdateOptions,
  UpsertOptions,
  UserOption,
} from "./types.ts";

/** The option keys every backend's constructor takes. */
const BASE_OPTION_KEYS = ["mode", "ttlMs", "clock", "encryptionKey", "schemas"] as const;

/**
 * Base class of the backends. Public methods check their arguments (option
 * objects included: an unknown key is a `ValidationError`), create the storage
 * on first use, apply the TTL and encryption, and turn unexpected failures into
 * `StorageError`s naming the backend; the driver does the storing.
 *
 * @typeParam M The mode of the sessions held.
 * @typeParam Memory What `memory` holds (a JSON object unless given).
 * @typeParam Data What `sessionData` holds (a JSON object unless given).
 * @typeParam Run What a run holds (a JSON object unless given).
 */
export abstract class BaseSessionStorage<
  M extends SessionMode = "agent",
  Memory = JsonObject,
  Data = JsonObject,
  Run = JsonObject,
> implements SessionStorage<TypedSession<M, Memory, Data>, TypedInput<M, Memory, Data>, Run> {
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
  #sealer: ContentSealer;
  #driver: SessionDriver<M>;
  #runs: RunLog<M>;

  /**
   * Checks the options (those of every backend plus `optionKeys`, the
   * backend's own), then builds the driver for the checked mode.
   */
  constructor(
    backend: string,
    options: BaseStorageOptions<M> | undefined,
    optionKeys: readonly string[],
    makeDriver: (mode: M) => SessionDriver<M>,
  ) {
    this.backend = backend;
    checkOptions(options, [...BASE_OPTION_KEYS, ...optionKeys], `${backend} options`);
    this.mode = checkMode(options?.mode) as M;
    this.ttlMs = checkInteger(options?.ttlMs, "ttlMs", 1, Number.MAX_SAFE_INTEGER) ?? null;
    if (options?.clock !== undefined && typeof options.clock !== "function") {
      throw new ValidationError([{ path: ["clock"], message: "expected a function returning epoch milliseconds" }]);
    }
    this.clock = options?.clock ?? Date.now;
    this.#sealer = new ContentSealer(this.mode, options);
    this.#driver = makeDriver(this.mode);
    this.#runs = new RunLog({
      mode: this.mode,
      driver: this.#driver,
      sealer: this.#sealer,
      time: () => {
        const now = this.clock();
        return { now, liveAfter: this.liveAfter(now) };
      },
    });
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
  async read(sessionId: string, userId?: string): Promise<TypedSession<M, Memory, Data> | null> {
    const id = checkId(sessionId, "sessionId");
    const user = checkOptionalId(userId, "userId");
    return await this.#run("read", async () => {
      const session = await this.#sealer.open(await this.#driver.read(id));
      if (session === null || isExpired(session, this.liveAfter(this.clock()))) return null;
      if (user !== undefined && session.userId !== user) return null;
      return session as unknown as TypedSession<M, Memory, Data>;
    });
  }

  /** Inserts or updates a session; throws `ConflictError` or `UserMismatchError` without writing. */
  async upsert(input: TypedInput<M, Memory, Data>, options?: UpsertOptions): Promise<TypedSession<M, Memory, Data>> {
    const content = parseSessionInput(this.mode, input);
    checkOptions(options, ["expectedVersion"], "upsert options");
    const expectedVersion = checkInteger(options?.expectedVersion, "expectedVersion", 0, Number.MAX_SAFE_INTEGER);
    return await this.#run("upsert", async () => {
      const now = this.clock();
      const context: WriteContext = { now, liveAfter: this.liveAfter(now) };
      if (expectedVersion !== undefined) context.expectedVersion = expectedVersion;
      const [stored] = await this.#sealer.openAll(
        await this.#driver.write([await this.#sealer.seal(content)], context),
      );
      return stored! as unknown as TypedSession<M, Memory, Data>;
    });
  }

  /** Upserts several sessions in order; all or nothing where `capabilities.atomicBatch`. */
  async upsertMany(
    inputs: TypedInput<M, Memory, Data>[],
    ...noOptions: never[]
  ): Promise<TypedSession<M, Memory, Data>[]> {
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
      const sealed = await Promise.all(batch.map((content) => this.#sealer.seal(content)));
      const stored = await this.#sealer.openAll(
        await this.#driver.write(sealed, { now, liveAfter: this.liveAfter(now) }),
      );
      return stored as unknown as TypedSession<M, Memory, Data>[];
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
  ): Promise<TypedSession<M, Memory, Data> | null> {
    const id = checkId(sessionId, "sessionId");
    const name = checkSessionName(sessionName);
    const context = this.#changeContext(options, "renameSession");
    return await this.#run(
      "renameSession",
      async () =>
        await this.#sealer.open(await this.#driver.rename(id, name, context)) as unknown as
          | TypedSession<M, Memory, Data>
          | null,
    );
  }

  /** One page of matching sessions; pass `nextCursor` back for the next. */
  async listSessions(options?: ListOptions): Promise<SessionPage<TypedSession<M, Memory, Data>>> {
    const query = toListQuery(options, null);
    return await this.#run("listSessions", async () => {
      query.liveAfter = this.liveAfter(this.clock());
      return toPage(await this.#sealer.openAll(await this.#driver.list(query)), query) as unknown as SessionPage<
        TypedSession<M, Memory, Data>
      >;
    });
  }

  /** Every matching session, newest `createdAt` first (read page by page). */
  async getAllSessions(filter?: SessionFilter): Promise<TypedSession<M, Memory, Data>[]> {
    checkOptions(filter, FILTER_KEYS, "getAllSessions filter");
    const all: TypedSession<M, Memory, Data>[] = [];
    let cursor: string | null = null;
    do {
      const page: SessionPage<TypedSession<M, Memory, Data>> = await this.listSessions({
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
  async getRecentSessions(options?: RecentOptions): Promise<TypedSession<M, Memory, Data>[]> {
    checkOptions(options, [...FILTER_KEYS, "limit"], "getRecentSessions options");
    const limit = checkInteger(options?.limit, "limit", 1, MAX_PAGE_SIZE) ?? 2;
    const page = await this.listSessions({ ...pickFilter(options), limit, sortBy: "createdAt", order: "desc" });
    return page.sessions;
  }

  /** Appends runs (keyed, with a patch, creating the session) in one write; see `SessionStorage.appendRuns`. */
  async appendRuns(
    sessionId: string,
    runs: Run[],
    options?: AppendRunsOptions<TypedSession<M, Memory, Data>>,
  ): Promise<AppendRunsResult> {
    return await this.#run(
      "appendRuns",
      () => this.#runs.append(sessionId, runs as JsonObject[], options as Record<string, unknown>),
    );
  }

  /** A page of the session's runs by `seq`; see `SessionStorage.getRuns`. */
  async getRuns(sessionId: string, options?: GetRunsOptions): Promise<RunPage<Run>> {
    return await this.#run("getRuns", () => this.#runs.page(sessionId, options)) as RunPage<Run>;
  }

  /** The run stored under `key`, or `null`; see `SessionStorage.getRun`. */
  async getRun(sessionId: string, key: string, options?: UserOption): Promise<RunRecord<Run> | null> {
    return await this.#run("getRun", () => this.#runs.get(sessionId, key, options)) as RunRecord<Run> | null;
  }

  /** Replaces one run; see `SessionStorage.putRun`. */
  async putRun(sessionId: string, at: RunAddress, run: Run, options?: EditOptions): Promise<AppendRunsResult> {
    return await this.#run("putRun", () => this.#runs.put(sessionId, at, run as JsonObject, options));
  }

  /** Removes the runs after `at`; see `SessionStorage.truncateRuns`. */
  async truncateRuns(sessionId: string, at: RunAddress, options?: EditOptions): Promise<AppendRunsResult> {
    return await this.#run("truncateRuns", () => this.#runs.truncate(sessionId, at, options));
  }

  /** Removes and returns the last run; see `SessionStorage.popRun`. */
  async popRun(sessionId: string, options?: EditOptions): Promise<RunRecord<Run> | null> {
    return await this.#run("popRun", () => this.#runs.pop(sessionId, options)) as RunRecord<Run> | null;
  }

  /** Swaps the tail if unchanged; see `SessionStorage.replaceRuns`. */
  async replaceRuns(sessionId: string, input: ReplaceRunsInput<Run>, options?: EditOptions): Promise<AppendRunsResult> {
    return await this.#run("replaceRuns", () => this.#runs.replace(sessionId, input as ReplaceRunsInput, options));
  }

  /** Changes only the given fields; see `SessionStorage.patch`. */
  async patch(
    sessionId: string,
    fields: SessionPatch<TypedSession<M, Memory, Data>>,
    options?: EditOptions,
  ): Promise<TypedSession<M, Memory, Data>> {
    return await patchSession(this, sessionId, fields, options);
  }

  /** Read, apply `fn`, write with `expectedVersion`, retry on conflict; see `SessionStorage.update`. */
  async update(
    sessionId: string,
    fn: (
      session: TypedSession<M, Memory, Data> | null,
    ) => TypedInput<M, Memory, Data> | Promise<TypedInput<M, Memory, Data>>,
    options?: UpdateOptions,
  ): Promise<TypedSession<M, Memory, Data>> {
    return await updateSession(this, sessionId, fn, options);
  }

  /** Restores sessions exactly as given, with their runs; see `SessionStorage.importSessions`. */
  async importSessions(
    entries: SessionExport<TypedSession<M, Memory, Data>, RunRecordInput<Run>>[],
    options?: ImportOptions,
  ): Promise<ImportResult> {
    checkOptions(options, ["onConflict"], "importSessions options");
    const onConflict = options?.onConflict ?? "fail";
    if (onConflict !== "skip" && onConflict !== "overwrite" && onConflict !== "fail") {
      throw new ValidationError([{ path: ["onConflict"], message: 'expected "skip", "overwrite" or "fail"' }]);
    }
    const checked = checkImport(this.mode, entries);
    return await this.#run("importSessions", async () => {
      if (checked.length === 0) return { imported: 0, skipped: 0 };
      const sealed = await Promise.all(checked.map(async ({ session, runs }) => ({
        session: await this.#sealer.seal(session),
        runs: await this.#runs.sealStored(session.sessionId, runs),
      })));
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

const FILTER_KEYS = ["userId", "entityId"] as const;

function pickFilter(filter: SessionFilter | undefined): SessionFilter {
  const out: SessionFilter = {};
  if (filter?.userId !== undefined) out.userId = filter.userId;
  if (filter?.entityId !== undefined) out.entityId = filter.entityId;
  return out;
}
