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
  EditContext,
  ImportConflict,
  NewRun,
  RunEdit,
  RunQuery,
  SessionDriver,
  StoredRun,
  WriteContext,
} from "../../session/driver.ts";
import {
  ConflictError,
  CorruptRecordError,
  RunConflictError,
  SessionNotFoundError,
  StorageError,
} from "../../session/errors.ts";
import { compareIds, type ListQuery } from "../../session/list.ts";
import { cloneJson } from "../../session/_json.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import type { SessionContent } from "../../session/parse.ts";
import { checkWrite } from "../../session/stamp.ts";
import type { AppendRunsResult, ImportResult, SessionExport, SessionMode, SessionOf } from "../../session/types.ts";
import { type RedisScript, runScript, type ScriptClient } from "./client.ts";
import { decodeSession } from "./hash.ts";
import { pad, RedisKeys } from "./keys.ts";
import { LAYOUT_VERSION, OPEN_LAYOUT } from "./layout.ts";
import * as scripts from "./scripts.ts";
import * as runScripts from "./scripts_runs.ts";

/** Options of {@linkcode RedisEngine}. */
export interface RedisEngineOptions<M extends SessionMode> {
  /** The mode of the sessions held. */
  mode: M;
  /** The client running the scripts. */
  client: ScriptClient | (() => Promise<ScriptClient>);
  /** `{<prefix>}:<mode>:`, the start of every key (one hash tag: one slot). */
  keyPrefix: string;
  /**
   * `<prefix>:<mode>:`, where releases before layout 3 kept the same keys;
   * they are moved under `keyPrefix` before the first operation. `null`
   * where they cannot be (a Redis Cluster: those releases' writes never ran there).
   */
  legacyKeyPrefix: string | null;
  /** The storage's TTL, set on the keys with `PEXPIRE`. */
  ttlMs: number | null;
  /** Releases the client's connections when the storage owns them. */
  close?: () => Promise<void>;
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
  readonly #close: () => Promise<void>;
  readonly #legacy: string | null;
  #opened: Promise<void> | null = null;

  /** An engine over `options.client`. */
  constructor(options: RedisEngineOptions<M>) {
    this.#mode = options.mode;
    this.#keys = new RedisKeys(options.keyPrefix);
    this.#ttl = options.ttlMs;
    const client = options.client;
    this.#client = typeof client === "function" ? client : () => Promise.resolve(client);
    this.#close = options.close ?? (() => Promise.resolve());
    this.#legacy = options.legacyKeyPrefix;
  }

  async #run<I, O>(script: RedisScript<I, O>, input: I): Promise<O> {
    await this.#open();
    return await runScript(await this.#client(), script, input);
  }

  /** Once per engine: the layout marker checked (and untagged keys moved first); a failure is tried again. */
  #open(): Promise<void> {
    return this.#opened ??= (async () => {
      const client = await this.#client();
      let version: number | null = null;
      while (version === null) {
        version = await runScript(client, OPEN_LAYOUT, { k: this.#keys, legacyPrefix: this.#legacy });
      }
      if (version !== LAYOUT_VERSION) {
        throw new StorageError(
          `the keys under ${this.#keys.prefix} have layout version ${version}; this release reads ${LAYOUT_VERSION}`,
        );
      }
    })().catch((error) => {
      this.#opened = null;
      throw error;
    });
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

  /** Records the layout version, moving keys of the untagged layout first; other keys appear with the first write. */
  create(): Promise<void> {
    return this.#open();
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

  /** One script: keyed replays skipped, the patch or the created session, the runs; refusals explained here. */
  async appendRuns(sessionId: string, runs: NewRun[], context: AppendContext): Promise<AppendRunsResult> {
    const f = MODE_FIELDS[this.#mode];
    const named: Record<string, unknown> = {};
    const json: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(context.patch ?? {})) {
      if (name === "sessionName" || name === f.entity) named[name] = value;
      else json[name] = value;
    }
    const result = await this.#run(runScripts.APPEND_RUNS, {
      k: this.#keys,
      op: crypto.randomUUID(),
      id: sessionId,
      userId: context.userId,
      liveAfter: context.liveAfter,
      now: context.now,
      ...(context.expectedVersion !== undefined ? { expectedVersion: context.expectedVersion } : {}),
      ttlMs: this.#ttl,
      create: context.create === undefined ? null : this.#scriptSession(context.create as SessionContent<M>),
      patch: { named, entity: f.entity, json },
      runs,
    });
    return explain(sessionId, result, context.userId, context.expectedVersion, "holds another run");
  }

  /** One script: drops the runs after `keepThrough` (and their keys), adds `edit.add`, bumps the version. */
  async editRuns(sessionId: string, edit: RunEdit, context: EditContext): Promise<AppendRunsResult> {
    const result = await this.#run(runScripts.EDIT_RUNS, {
      k: this.#keys,
      op: crypto.randomUUID(),
      id: sessionId,
      userId: context.userId,
      liveAfter: context.liveAfter,
      now: context.now,
      expectedVersion: context.expectedVersion,
      ttlMs: this.#ttl,
      keepThrough: edit.keepThrough,
      runs: edit.add,
    });
    return explain(sessionId, result, context.userId, context.expectedVersion, "is held by run");
  }

  /** One script: `LRANGE` of the page; every entry must be the run record of its seq. */
  async getRuns(sessionId: string, query: RunQuery): Promise<StoredRun[]> {
    const { first, last, entries } = await this.#run(runScripts.GET_RUNS, {
      k: this.#keys,
      id: sessionId,
      ...(query.userId !== undefined ? { userId: query.userId } : {}),
      liveAfter: query.liveAfter,
      seqAbove: query.seqAbove,
      seqBelow: query.seqBelow,
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
    const runs = entries.map((entry, i) => runScripts.decodeRun(entry, first + i, location));
    return query.order === "asc" ? runs : runs.reverse();
  }

  /** One script: the key hash names the seq, the list holds the record. */
  async getRun(
    sessionId: string,
    key: string,
    query: { userId?: string; liveAfter: number | null },
  ): Promise<StoredRun | null> {
    const found = await this.#run(runScripts.GET_RUN, {
      k: this.#keys,
      id: sessionId,
      ...(query.userId !== undefined ? { userId: query.userId } : {}),
      liveAfter: query.liveAfter,
      key,
    });
    if (found === null) return null;
    const run = runScripts.decodeRun(found.entry, found.seq, this.#keys.runs(sessionId));
    if (run.key !== key) {
      throw new CorruptRecordError(this.#keys.runKeys(sessionId), `key ${JSON.stringify(key)} names run ${found.seq}`);
    }
    return run;
  }

  /** One script for the whole import. */
  async importSessions(
    entries: SessionExport<SessionOf<M>, StoredRun>[],
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
        runs: runs.map((r) => ({ key: r.key, entry: runScripts.runEntry(r) })),
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
    this.#opened = null; // the last script removed the layout marker
  }

  /** Releases the client's connections when the backend said how (`options.close`). */
  close(): Promise<void> {
    return this.#close();
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

/** The result of a run-log write, or the error it stands for (a refusal explained by `checkWrite`). */
function explain(
  sessionId: string,
  result: runScripts.RunWriteResult,
  userId: string | null,
  expectedVersion: number | undefined,
  clash: string,
): AppendRunsResult {
  if (result.kind === "ok") return { version: result.version, runCount: result.runCount };
  if (result.kind === "notfound") throw new SessionNotFoundError(sessionId);
  if (result.kind === "conflict") {
    const detail = `key ${JSON.stringify(result.key)} ${clash}${result.seq === null ? "" : ` ${result.seq}`}`;
    throw new RunConflictError(sessionId, result.version, detail, result.key);
  }
  checkWrite(sessionId, result.stored.version === 0 ? null : result.stored, userId, expectedVersion);
  throw new StorageError(`the run-log script refused ${JSON.stringify(sessionId)} against the write rules`);
}
