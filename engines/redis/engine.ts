/**
 * The Redis engine: the {@linkcode SessionDriver} written once over a
 * {@linkcode ScriptClient}, so every Redis transport (Upstash REST today, TCP
 * later) is a thin client. Every operation is one script (`lua.ts`), called
 * through its typed encoder and decoder (`scripts.ts`); every write carries an
 * operation id, so a request sent twice runs once.
 *
 * @module
 */
import type {
  AppendContext,
  ChangeContext,
  ImportConflict,
  RunQuery,
  SessionDriver,
  WriteContext,
} from "../../session/driver.ts";
import { ConflictError, CorruptRecordError, SessionNotFoundError, StorageError } from "../../session/errors.ts";
import { compareIds, type ListQuery } from "../../session/list.ts";
import { cloneJson } from "../../session/_json.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import type { SessionContent } from "../../session/parse.ts";
import { checkWrite } from "../../session/stamp.ts";
import { parseStoredObject } from "../../session/stored.ts";
import type {
  AppendRunsResult,
  ImportResult,
  JsonObject,
  RunRecord,
  SessionExport,
  SessionMode,
  SessionOf,
} from "../../session/types.ts";
import { type RedisScript, runScript, type ScriptClient } from "./client.ts";
import { decodeSession } from "./hash.ts";
import { pad, RedisKeys } from "./keys.ts";
import * as scripts from "./scripts.ts";

/** Options of {@linkcode RedisEngine}. */
export interface RedisEngineOptions<M extends SessionMode> {
  /** The mode of the sessions held. */
  mode: M;
  /** The client running the scripts. */
  client: ScriptClient | (() => Promise<ScriptClient>);
  /** `<prefix>:<mode>:`, the start of every key. */
  keyPrefix: string;
  /** The storage's TTL, set on the keys with `PEXPIRE`. */
  ttlMs: number | null;
}

/** How many sessions one purge or drop script removes. */
const BATCH = 500;

/**
 * {@linkcode SessionDriver} over Redis scripts.
 *
 * @example Over a client
 * ```ts ignore
 * const driver = new RedisEngine({ mode: "agent", client, keyPrefix: "agentstate:agent:", ttlMs: null });
 * ```
 */
export class RedisEngine<M extends SessionMode> implements SessionDriver<M> {
  readonly #mode: M;
  readonly #keys: RedisKeys;
  readonly #ttl: number | null;
  readonly #client: () => Promise<ScriptClient>;

  /** An engine over `options.client`. */
  constructor(options: RedisEngineOptions<M>) {
    this.#mode = options.mode;
    this.#keys = new RedisKeys(options.keyPrefix);
    this.#ttl = options.ttlMs;
    const client = options.client;
    this.#client = typeof client === "function" ? client : () => Promise.resolve(client);
  }

  async #run<I, O>(script: RedisScript<I, O>, input: I): Promise<O> {
    return await runScript(await this.#client(), script, input);
  }

  #session(sessionId: string, hash: scripts.StoredHash): SessionOf<M> | null {
    return decodeSession(this.#mode, sessionId, hash, this.#keys.session(sessionId));
  }

  #scriptSession(session: SessionContent<M>): scripts.ScriptSession {
    const f = MODE_FIELDS[this.#mode];
    const s = session as unknown as Record<string, unknown>;
    const rest: Record<string, unknown> = {};
    for (const name of [...f.strings.slice(1), ...f.objects]) rest[name] = s[name];
    return {
      id: session.sessionId,
      userId: session.userId,
      sessionName: session.sessionName,
      entityId: s[f.entity] as string | null,
      json: JSON.stringify(rest),
    };
  }

  /** Keys appear with the first write: nothing to create. */
  create(): Promise<void> {
    return Promise.resolve();
  }

  /** One script reading the hash. */
  async read(sessionId: string): Promise<SessionOf<M> | null> {
    let hash: scripts.StoredHash;
    try {
      hash = await this.#run(scripts.READ, { k: this.#keys, id: sessionId });
    } catch (error) {
      if (!/WRONGTYPE/.test(String((error as Error)?.message))) throw error;
      throw new CorruptRecordError(this.#keys.session(sessionId), "not a hash", { cause: error });
    }
    return this.#session(sessionId, hash);
  }

  /** One script for the whole batch; a refusal is explained by `checkWrite` from what the script read. */
  async write(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    const result = await this.#run(scripts.UPSERT, {
      k: this.#keys,
      op: crypto.randomUUID(),
      now: context.now,
      liveAfter: context.liveAfter,
      ...(context.expectedVersion !== undefined ? { expectedVersion: context.expectedVersion } : {}),
      ttlMs: this.#ttl,
      sessions: batch.map((s) => this.#scriptSession(s)),
    });
    if (!result.ok) {
      const content = batch[result.index];
      if (content === undefined) {
        throw new StorageError(`the upsert script refused entry ${result.index} of ${batch.length}`);
      }
      const stored = result.stored.version === 0 ? null : result.stored;
      checkWrite(content.sessionId, stored, content.userId, context.expectedVersion);
      throw new StorageError(`the upsert script refused ${JSON.stringify(content.sessionId)} against the write rules`);
    }
    return batch.map((content, i) => ({ ...cloneJson(content), ...result.stamps[i]! }) as unknown as SessionOf<M>);
  }

  /** One script. */
  delete(sessionId: string, context: ChangeContext): Promise<boolean> {
    return this.#run(scripts.DELETE, {
      k: this.#keys,
      op: crypto.randomUUID(),
      id: sessionId,
      ...(context.userId !== undefined ? { userId: context.userId } : {}),
      liveAfter: context.liveAfter,
    });
  }

  /** One script, returning the renamed session's hash. */
  async rename(sessionId: string, sessionName: string | null, context: ChangeContext): Promise<SessionOf<M> | null> {
    const hash = await this.#run(scripts.RENAME, {
      k: this.#keys,
      op: crypto.randomUUID(),
      id: sessionId,
      sessionName,
      ...(context.userId !== undefined ? { userId: context.userId } : {}),
      liveAfter: context.liveAfter,
      now: context.now,
      ttlMs: this.#ttl,
    });
    return hash === null ? null : this.#session(sessionId, hash);
  }

  /** One script walking the index that fits the filter, from the cursor. */
  async list(query: ListQuery): Promise<SessionOf<M>[]> {
    const byCreated = query.sortBy === "createdAt";
    const index = query.userId !== undefined
      ? this.#keys.index(byCreated ? "uc" : "uu", query.userId)
      : query.entityId !== undefined
      ? this.#keys.index(byCreated ? "ec" : "eu", query.entityId)
      : this.#keys.index(byCreated ? "c" : "u");
    let low = "-";
    let high = "+";
    const after = byCreated ? query.createdAfter : query.updatedAfter;
    const before = byCreated ? query.createdBefore : query.updatedBefore;
    if (after !== undefined && after >= 0) low = "[" + pad(Math.floor(after) + 1);
    if (before !== undefined) high = before <= 0 ? "(" + pad(0) : "(" + pad(Math.ceil(before));
    if (query.after !== null) {
      const position = `(${pad(query.after.value)}:${query.after.sessionId}`;
      if (query.order === "asc") low = laterStart(low, position);
      else high = earlierEnd(high, position);
    }
    const page = await this.#run(scripts.LIST, { k: this.#keys, query, index, low, high });
    const sessions: SessionOf<M>[] = [];
    for (const { sessionId, hash } of page) {
      const session = this.#session(sessionId, hash);
      if (session) sessions.push(session);
    }
    return sessions;
  }

  /** One script: checks, pushes the runs, bumps the version; a refusal is explained by `checkWrite`. */
  async appendRuns(sessionId: string, runs: JsonObject[], context: AppendContext): Promise<AppendRunsResult> {
    const result = await this.#run(scripts.APPEND_RUNS, {
      k: this.#keys,
      op: crypto.randomUUID(),
      id: sessionId,
      userId: context.userId,
      liveAfter: context.liveAfter,
      now: context.now,
      ...(context.expectedVersion !== undefined ? { expectedVersion: context.expectedVersion } : {}),
      ttlMs: this.#ttl,
      runs: runs.map((run) => JSON.stringify(run)),
    });
    if (result.kind === "notfound") throw new SessionNotFoundError(sessionId);
    if (result.kind === "refused") {
      checkWrite(sessionId, result.stored, context.userId, context.expectedVersion);
      throw new StorageError(`the appendRuns script refused ${JSON.stringify(sessionId)} against the write rules`);
    }
    return { version: result.version, runCount: result.runCount };
  }

  /** One script: `LRANGE` of the page; every entry must be the run record of its seq. */
  async getRuns(sessionId: string, query: RunQuery): Promise<RunRecord[]> {
    const { first, last, entries } = await this.#run(scripts.GET_RUNS, {
      k: this.#keys,
      id: sessionId,
      ...(query.userId !== undefined ? { userId: query.userId } : {}),
      liveAfter: query.liveAfter,
      afterSeq: query.afterSeq,
      count: query.limit + 1,
      order: query.order,
    });
    const location = this.#keys.runs(sessionId);
    if (entries.length !== last - first + 1) {
      throw new CorruptRecordError(
        location,
        `holds ${entries.length} of runs ${first}..${last} (the session counts more runs than the list has)`,
      );
    }
    const runs = entries.map((entry, i) => {
      const seq = first + i;
      const record = parseStoredObject(entry, `${location} run ${seq}`, "the run record");
      const run = record.run;
      if (
        record.seq !== seq || !Number.isSafeInteger(record.createdAt) || typeof run !== "object" || run === null ||
        Array.isArray(run)
      ) {
        throw new CorruptRecordError(`${location} run ${seq}`, "not a run record of this position");
      }
      return record as unknown as RunRecord;
    });
    return query.order === "asc" ? runs : runs.reverse();
  }

  /** One script for the whole import. */
  async importSessions(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: ImportConflict,
    liveAfter: number | null,
  ): Promise<ImportResult> {
    const result = await this.#run(scripts.IMPORT, {
      k: this.#keys,
      op: crypto.randomUUID(),
      onConflict,
      liveAfter,
      ttlMs: this.#ttl,
      entries: entries.map(({ session, runs }) => ({
        ...this.#scriptSession(session),
        createdAt: session.createdAt,
        updatedAt: session.updatedAt,
        version: session.version,
        runs: runs.map((r) => JSON.stringify(r)),
      })),
    });
    if (!result.ok) throw new ConflictError(result.sessionId, 0, result.version);
    return { imported: result.imported, skipped: result.skipped };
  }

  /** Scripts removing up to 500 expired sessions each, until none is left. */
  async purge(liveAfter: number): Promise<number> {
    let total = 0;
    for (;;) {
      const { purged, scanned } = await this.#run(scripts.PURGE, {
        k: this.#keys,
        op: crypto.randomUUID(),
        liveAfter,
        batch: BATCH,
      });
      total += purged;
      if (scanned < BATCH) return total;
    }
  }

  /** Scripts removing up to 500 sessions each, then the indexes: only keys under this prefix and mode. */
  async drop(): Promise<void> {
    while (await this.#run(scripts.DROP, { k: this.#keys, batch: BATCH }) > 0) {
      // keep going until the index is empty
    }
  }

  /** The client's connections belong to the backend. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The later of two lexicographic range starts (`-` is the lowest). */
function laterStart(a: string, b: string): string {
  if (a === "-") return b;
  if (b === "-") return a;
  return compareIds(a.slice(1), b.slice(1)) >= 0 ? a : b;
}

/** The earlier of two lexicographic range ends (`+` is the highest). */
function earlierEnd(a: string, b: string): string {
  if (a === "+") return b;
  if (b === "+") return a;
  return compareIds(a.slice(1), b.slice(1)) <= 0 ? a : b;
}
