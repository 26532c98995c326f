/**
 * The run log's rules, once for every backend: checking runs, keys and
 * addresses, keyed (idempotent) appends with a patch and create in the same
 * write, reads by key and by seq range, and the edits (`putRun`,
 * `truncateRuns`, `popRun`, `replaceRuns`) expressed as one version-checked
 * rewrite of the log's tail ({@linkcode SessionDriver.editRuns}).
 *
 * @module
 */
import { decodeRunCursor, encodeRunCursor } from "./cursor.ts";
import type { EditContext, NewRun, RunQuery, SessionDriver, StoredRun } from "./driver.ts";
import { ConflictError, RunConflictError, SessionNotFoundError, ValidationError } from "./errors.ts";
import { MAX_PAGE_SIZE } from "./list.ts";
import { MODE_FIELDS } from "./modes.ts";
import {
  checkId,
  checkInteger,
  checkOptionalId,
  checkOptions,
  parseSessionInput,
  type SessionContent,
} from "./parse.ts";
import {
  checkAddress,
  checkKeys,
  checkRunKey,
  checkRuns,
  checkSuffix,
  checkVersion,
  missing,
  sameRuns,
} from "./run_checks.ts";
import type { ContentSealer } from "./sealer.ts";
import { checkWrite } from "./stamp.ts";
import type {
  AppendRunsResult,
  EditOptions,
  GetRunsOptions,
  JsonObject,
  ReplaceRunsInput,
  RunAddress,
  RunPage,
  RunRecord,
  SessionMode,
  SessionOf,
} from "./types.ts";

/** How many times an edit without `expectedVersion` is tried when another writer got in between its read and write. */
const EDIT_ATTEMPTS = 5;

/** A checked `appendRuns` call. */
interface AppendRequest<M extends SessionMode> {
  id: string;
  runs: JsonObject[];
  keys: (string | null)[];
  expectedVersion: number | undefined;
  userId: string | null;
  patch: Partial<SessionContent<M>> | undefined;
  create: SessionContent<M> | null;
}

/** A write that lost to another writer between its read and its write (worth planning again). */
function isLostRace(error: unknown): boolean {
  return error instanceof ConflictError && !(error instanceof RunConflictError);
}

/** What the run log needs from the storage it belongs to. */
export interface RunLogHost<M extends SessionMode> {
  /** The storage's mode. */
  mode: M;
  /** Its driver. */
  driver: SessionDriver<M>;
  /** Its validators, encryption and digests. */
  sealer: ContentSealer;
  /** The current time and the TTL bound. */
  time(): { now: number; liveAfter: number | null };
}

/** The run-log operations of a storage; its public methods call these inside their error wrapping. */
export class RunLog<M extends SessionMode> {
  readonly #host: RunLogHost<M>;

  /** The run log of `host`. */
  constructor(host: RunLogHost<M>) {
    this.#host = host;
  }

  /**
   * Appends runs, with keys, a patch and create-if-missing, in one write.
   * With an encryption key, runs are bound to the seq they will get and the
   * session's fields are sealed together, so the session and the log's end
   * are read first and the write is made conditional on the version read
   * (planned again when another writer got in between, unless the caller
   * gave `expectedVersion`).
   */
  async append(sessionId: string, runs: JsonObject[], options: Record<string, unknown> | undefined) {
    const id = checkId(sessionId, "sessionId");
    checkOptions(options, ["userId", "expectedVersion", "keys", "patch", "create"], "appendRuns options");
    const checked = checkRuns(runs, "runs");
    const keys = checkKeys(options?.keys, checked.length, "keys");
    const expectedVersion = checkVersion(options?.expectedVersion);
    const userId = checkOptionalId(options?.userId, "userId") ?? null;
    if (options?.create !== undefined && typeof options.create !== "boolean") {
      throw new ValidationError([{ path: ["create"], message: "expected a boolean" }]);
    }
    const patch = options?.patch === undefined ? undefined : this.#checkPatch(id, options.patch);
    const create = options?.create === true
      ? parseSessionInput(this.#host.mode, { sessionId: id, userId, ...patch })
      : null;
    const request = { id, runs: checked, keys, expectedVersion, userId, patch, create };
    if (!this.#host.sealer.encrypted) return await this.#appendPlain(request);
    for (;;) { // every lost race means another writer succeeded, so this ends
      try {
        return await this.#appendSealed(request);
      } catch (error) {
        if (!isLostRace(error) || expectedVersion !== undefined) throw error;
      }
    }
  }

  /** One driver call: keys, patch and create are applied inside the write. */
  async #appendPlain(r: AppendRequest<M>): Promise<AppendRunsResult> {
    const { driver, sealer } = this.#host;
    const context = this.#appendContext(r);
    if (r.patch !== undefined) {
      context.patch = await sealer.seal({ ...r.patch, sessionId: r.id }) as typeof context.patch;
    }
    if (r.create !== null) context.create = await sealer.seal(r.create);
    return await driver.appendRuns(r.id, await this.#newRuns(r.id, r.runs, r.keys, 1), context);
  }

  /** Reads the session and the log's end, then writes at that version (see `append`). */
  async #appendSealed(r: AppendRequest<M>): Promise<AppendRunsResult> {
    const { driver, sealer } = this.#host;
    const stored = await this.#live(r.id, undefined);
    if (stored === null && r.create === null) throw new SessionNotFoundError(r.id);
    checkWrite(r.id, stored, r.userId, r.expectedVersion);
    const runCount = stored === null ? 0 : await this.#lastSeq(r.id, undefined);
    const fresh: { run: JsonObject; key: string | null }[] = [];
    for (const [i, run] of r.runs.entries()) {
      const key = r.keys[i] ?? null;
      const held = stored === null || key === null ? null : await this.#locate(r.id, { key }, undefined);
      if (held === null) fresh.push({ run, key });
      else if (held.digest !== await sealer.digest(run)) {
        throw new RunConflictError(r.id, stored!.version, `key ${JSON.stringify(key)} holds another run`, key);
      }
    }
    if (stored !== null && fresh.length === 0) return { version: stored.version, runCount }; // a replay
    const context = this.#appendContext({ ...r, expectedVersion: r.expectedVersion ?? stored?.version ?? 0 });
    if (stored === null) context.create = await sealer.seal(r.create!);
    else if (r.patch !== undefined) {
      const merged = { ...await sealer.open(stored), ...r.patch };
      const sealed = await sealer.seal(merged) as Record<string, unknown>;
      const fields = [...MODE_FIELDS[this.#host.mode].objects, ...Object.keys(r.patch)];
      context.patch = Object.fromEntries(fields.map((f) => [f, sealed[f]])) as typeof context.patch;
    }
    const added = await this.#newRuns(r.id, fresh.map((f) => f.run), fresh.map((f) => f.key), runCount + 1);
    return await driver.appendRuns(r.id, added, context);
  }

  #appendContext(r: AppendRequest<M>): Parameters<SessionDriver<M>["appendRuns"]>[2] {
    const { now, liveAfter } = this.#host.time();
    const context: Parameters<SessionDriver<M>["appendRuns"]>[2] = { userId: r.userId, now, liveAfter };
    if (r.expectedVersion !== undefined) context.expectedVersion = r.expectedVersion;
    return context;
  }

  /** Seals an import's runs at their seqs, with digests for the keyed ones. */
  async sealStored(sessionId: string, runs: RunRecord[]): Promise<StoredRun[]> {
    const { sealer } = this.#host;
    return await Promise.all(runs.map(async (r) => ({
      ...r,
      digest: r.key === null ? null : await sealer.digest(r.run),
      run: await sealer.sealRun(sessionId, r.run, r.seq),
    })));
  }

  /** A page of runs by seq range, or the last N in order. */
  async page(sessionId: string, options: GetRunsOptions | undefined): Promise<RunPage> {
    const id = checkId(sessionId, "sessionId");
    checkOptions(options, ["userId", "limit", "order", "cursor", "after", "before", "last"], "getRuns options");
    const after = checkInteger(options?.after, "after", 0, Number.MAX_SAFE_INTEGER) ?? null;
    const before = checkInteger(options?.before, "before", 1, Number.MAX_SAFE_INTEGER) ?? null;
    const last = checkInteger(options?.last, "last", 1, MAX_PAGE_SIZE);
    const userId = checkOptionalId(options?.userId, "userId");
    if (last !== undefined) {
      const clash = (["after", "order", "limit", "cursor"] as const).find((k) => options?.[k] != null);
      if (clash) throw new ValidationError([{ path: [clash], message: "cannot be combined with last" }]);
      const rows = await this.#query(id, { seqAbove: null, seqBelow: before, order: "desc", limit: last - 1 }, userId);
      return { runs: await this.#open(id, rows.reverse()), nextCursor: null };
    }
    const order = options?.order ?? "asc";
    if (order !== "asc" && order !== "desc") {
      throw new ValidationError([{ path: ["order"], message: 'expected "asc" or "desc"' }]);
    }
    const limit = checkInteger(options?.limit, "limit", 1, MAX_PAGE_SIZE) ?? 100;
    const cursor = options?.cursor == null ? null : decodeRunCursor(String(options.cursor), order);
    const bounds = order === "asc"
      ? { seqAbove: cursor === null ? after : Math.max(cursor, after ?? 0), seqBelow: before }
      : { seqAbove: after, seqBelow: cursor === null ? before : Math.min(cursor, before ?? Infinity) };
    const rows = await this.#query(id, { ...bounds, order, limit }, userId);
    if (rows.length <= limit) return { runs: await this.#open(id, rows), nextCursor: null };
    const runs = rows.slice(0, limit);
    return { runs: await this.#open(id, runs), nextCursor: encodeRunCursor(order, runs[runs.length - 1]!.seq) };
  }

  /** The run stored under `key`, or `null`. */
  async get(sessionId: string, key: string, options: { userId?: string } | undefined): Promise<RunRecord | null> {
    const id = checkId(sessionId, "sessionId");
    const checkedKey = checkRunKey(key, "key");
    checkOptions(options, ["userId"], "getRun options");
    const userId = checkOptionalId(options?.userId, "userId");
    const query: { userId?: string; liveAfter: number | null } = { liveAfter: this.#host.time().liveAfter };
    if (userId !== undefined) query.userId = userId;
    const found = await this.#host.driver.getRun(id, checkedKey, query);
    return found === null ? null : (await this.#open(id, [found]))[0]!;
  }

  /** Replaces the run at `at`, keeping its key, seq and the runs after it. */
  async put(sessionId: string, at: RunAddress, run: JsonObject, options: EditOptions | undefined) {
    const id = checkId(sessionId, "sessionId");
    const address = checkAddress(at, false);
    const [checked] = checkRuns([run], "run");
    return await this.#edit(id, "putRun", options, async (userId) => {
      const target = await this.#locate(id, address, userId);
      if (target === null) throw missing(address);
      const tail = await this.#tail(id, target.seq + 1, userId);
      const [replacement] = await this.#newRuns(id, [checked!], [target.key], target.seq);
      return { keepThrough: target.seq - 1, add: [{ ...replacement!, createdAt: target.createdAt }, ...tail] };
    });
  }

  /** Removes every run after `at`. */
  async truncate(sessionId: string, at: RunAddress, options: EditOptions | undefined) {
    const id = checkId(sessionId, "sessionId");
    const address = checkAddress(at, true);
    return await this.#edit(id, "truncateRuns", options, async (userId) => {
      if ("seq" in address && address.seq === 0) return { keepThrough: 0, add: [] };
      const target = await this.#locate(id, address, userId);
      if (target === null) throw missing(address);
      return { keepThrough: target.seq, add: [] };
    });
  }

  /** Removes and returns the last run. */
  async pop(sessionId: string, options: EditOptions | undefined): Promise<RunRecord | null> {
    const id = checkId(sessionId, "sessionId");
    const last: { run: StoredRun | null } = { run: null };
    await this.#edit(id, "popRun", options, async (userId) => {
      [last.run = null] = await this.#query(id, { seqAbove: null, seqBelow: null, order: "desc", limit: 0 }, userId);
      return last.run === null ? null : { keepThrough: last.run.seq - 1, add: [] };
    });
    return last.run === null ? null : (await this.#open(id, [last.run]))[0]!;
  }

  /** Swaps the tail if it still is what the caller read. */
  async replace(sessionId: string, input: ReplaceRunsInput, options: EditOptions | undefined) {
    const id = checkId(sessionId, "sessionId");
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw new ValidationError([{ path: [], message: "expected { expectedSuffix, replacement, keys? }" }]);
    }
    checkOptions(input, ["expectedSuffix", "replacement", "keys"], "replaceRuns input");
    const expected = checkSuffix(input.expectedSuffix);
    const replacement = input.replacement.length === 0 ? [] : checkRuns(input.replacement, "replacement");
    const keys = checkKeys(input.keys, replacement.length, "keys");
    return await this.#edit(id, "replaceRuns", options, async (userId, version) => {
      const first = expected[0]?.seq ?? (await this.#lastSeq(id, userId)) + 1;
      const tail = await this.#open(id, await this.#tail(id, first, userId));
      if (!sameRuns(tail, expected)) {
        throw new RunConflictError(id, version, `the runs from seq ${first} are not the expected suffix`);
      }
      return { keepThrough: first - 1, add: await this.#newRuns(id, replacement, keys, first) };
    });
  }

  /** Seals runs for a write at seqs `firstSeq`, `firstSeq + 1` …; returns them with their keys and digests. */
  async #newRuns(sessionId: string, runs: JsonObject[], keys: (string | null)[], firstSeq: number): Promise<NewRun[]> {
    const { sealer } = this.#host;
    return await Promise.all(runs.map(async (run, i) => {
      const key = keys[i] ?? null;
      const digest = key === null ? null : await sealer.digest(run);
      return { key, digest, run: await sealer.sealRun(sessionId, run, firstSeq + i) };
    }));
  }

  /**
   * Reads what an edit needs, then rewrites the tail at the version read; when
   * the caller gave no `expectedVersion`, a write that lost to another writer
   * is planned again (bounded), else its conflict is thrown.
   */
  async #edit(
    id: string,
    operation: string,
    options: EditOptions | undefined,
    plan: (userId: string | undefined, version: number) => Promise<{ keepThrough: number; add: NewRun[] } | null>,
  ): Promise<AppendRunsResult> {
    checkOptions(options, ["userId", "expectedVersion"], `${operation} options`);
    const userId = checkOptionalId(options?.userId, "userId");
    const expectedVersion = checkVersion(options?.expectedVersion);
    const host = this.#host;
    for (let attempt = 1;; attempt++) {
      const session = await this.#live(id, userId);
      if (session === null) throw new SessionNotFoundError(id);
      const version = expectedVersion ?? session.version;
      if (version !== session.version) throw new ConflictError(id, version, session.version);
      const edit = await plan(userId, version);
      if (edit === null) return { version, runCount: 0 };
      const { now, liveAfter } = host.time();
      const context: EditContext = { userId: userId ?? null, expectedVersion: version, now, liveAfter };
      try {
        return await host.driver.editRuns(id, edit, context);
      } catch (error) {
        const retry = isLostRace(error) && expectedVersion === undefined && attempt < EDIT_ATTEMPTS;
        if (!retry) throw error;
      }
    }
  }

  async #live(id: string, userId: string | undefined): Promise<SessionOf<M> | null> {
    const session = await this.#host.driver.read(id);
    const { liveAfter } = this.#host.time();
    if (session === null || (liveAfter !== null && session.updatedAt <= liveAfter)) return null;
    return userId !== undefined && session.userId !== userId ? null : session;
  }

  async #locate(id: string, at: RunAddress, userId: string | undefined): Promise<StoredRun | null> {
    if ("key" in at) {
      const query: { userId?: string; liveAfter: number | null } = { liveAfter: this.#host.time().liveAfter };
      if (userId !== undefined) query.userId = userId;
      return await this.#host.driver.getRun(id, at.key, query);
    }
    const [found] = await this.#query(
      id,
      { seqAbove: at.seq - 1, seqBelow: at.seq + 1, order: "asc", limit: 0 },
      userId,
    );
    return found ?? null;
  }

  async #lastSeq(id: string, userId: string | undefined): Promise<number> {
    const [last] = await this.#query(id, { seqAbove: null, seqBelow: null, order: "desc", limit: 0 }, userId);
    return last?.seq ?? 0;
  }

  /** Every run from `fromSeq` to the end, as stored (createdAt kept for the rewrite). */
  async #tail(id: string, fromSeq: number, userId: string | undefined): Promise<StoredRun[]> {
    const tail: StoredRun[] = [];
    for (let above = fromSeq - 1;;) {
      const rows = await this.#query(
        id,
        { seqAbove: above, seqBelow: null, order: "asc", limit: MAX_PAGE_SIZE },
        userId,
      );
      tail.push(...rows.slice(0, MAX_PAGE_SIZE));
      if (rows.length <= MAX_PAGE_SIZE) return tail;
      above = tail[tail.length - 1]!.seq;
    }
  }

  /** `limit + 1` rows (one more than the page, to tell whether there is a next one). */
  #query(
    id: string,
    bounds: Omit<RunQuery, "liveAfter" | "userId">,
    userId: string | undefined,
  ): Promise<StoredRun[]> {
    const query: RunQuery = { ...bounds, liveAfter: this.#host.time().liveAfter };
    if (userId !== undefined) query.userId = userId;
    return this.#host.driver.getRuns(id, query);
  }

  async #open(id: string, rows: StoredRun[]): Promise<RunRecord[]> {
    const plain = rows.map(({ seq, key, createdAt, run }) => ({ seq, key, createdAt, run }));
    return await this.#host.sealer.openRuns(id, plain);
  }

  #checkPatch(id: string, patch: unknown): Partial<SessionContent<M>> {
    if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
      throw new ValidationError([{ path: ["patch"], message: "expected an object of session fields" }]);
    }
    for (const key of ["sessionId", "userId"]) {
      if (key in patch) throw new ValidationError([{ path: ["patch", key], message: "cannot be patched" }]);
    }
    const content = parseSessionInput(this.#host.mode, { sessionId: id, ...patch });
    const picked: Record<string, unknown> = {};
    for (const key of Object.keys(patch)) {
      if (key !== "createdAt" && key !== "updatedAt" && key !== "version") {
        picked[key] = (content as Record<string, unknown>)[key];
      }
    }
    return picked as Partial<SessionContent<M>>;
  }
}
