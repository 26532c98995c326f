/**
 * {@linkcode UpstashRedisStorage}: sessions in Redis over Upstash's REST API
 * (`@upstash/redis`), so it works wherever `fetch` works: Deno Deploy, edge
 * workers, browsers, Node.
 *
 * Every write (upsert with its version and ownership checks, indexes and TTL;
 * `upsertMany`; delete; rename; `appendRuns`; import) is one Lua script: atomic
 * and one HTTP request. A read is one request (`HGETALL`), a list page one
 * script walking a sorted-set index, never `KEYS` or `SCAN`. The key layout is
 * described in `upstash_scripts.ts`. TTL is native (`PEXPIRE` on the session and
 * its runs); listings skip and remove index entries of expired sessions, and
 * `purgeExpired()` clears them.
 *
 * @module
 */
import { BaseSessionStorage } from "../session/base.ts";
import type { AppendContext, ChangeContext, RunQuery, WriteContext } from "../session/driver.ts";
import {
  ConflictError,
  CorruptRecordError,
  SessionNotFoundError,
  UserMismatchError,
  ValidationError,
} from "../session/errors.ts";
import { compareIds, type ListQuery } from "../session/list.ts";
import { cloneJson } from "../session/_json.ts";
import { MODE_FIELDS } from "../session/modes.ts";
import { parseStoredSession, type SessionContent } from "../session/parse.ts";
import type {
  AppendRunsResult,
  BaseStorageOptions,
  ImportResult,
  JsonObject,
  RunRecord,
  SessionExport,
  SessionMode,
  SessionOf,
  StorageCapabilities,
} from "../session/types.ts";
import * as scripts from "./upstash_scripts.ts";

/**
 * The part of `@upstash/redis`'s `Redis` client this storage uses. Pass a real
 * client, created with `automaticDeserialization: false`.
 */
export interface UpstashRedisLike {
  /** `EVAL`. */
  eval(script: string, keys: string[], args: unknown[]): Promise<unknown>;
  /** `EVALSHA`. */
  evalsha(sha: string, keys: string[], args: unknown[]): Promise<unknown>;
  /** `HGETALL`. */
  hgetall(key: string): Promise<unknown>;
}

/** Options of {@linkcode UpstashRedisStorage}. */
export interface UpstashRedisStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** The database's REST URL (`UPSTASH_REDIS_REST_URL`). Not needed with `redis`. */
  url?: string;
  /** The database's REST token (`UPSTASH_REDIS_REST_TOKEN`). Not needed with `redis`. */
  token?: string;
  /**
   * Key prefix, 1–64 characters of `A-Za-z0-9._-`; keys are `<prefix>:<mode>:…`.
   * @default {"agentstate"}
   */
  prefix?: string;
  /** A client made by the caller (with `automaticDeserialization: false`). */
  redis?: UpstashRedisLike;
  /**
   * How often the client retries a failed request.
   * @default {5}
   */
  retries?: number;
  /**
   * Largest request sent; bigger writes throw `ValidationError` before sending.
   * @default {10485760} (Upstash's 10 MB request limit)
   */
  maxRequestBytes?: number;
}

const PREFIX = /^[A-Za-z0-9._-]{1,64}$/;
const BATCH = 500;

/** Percent-encodes every byte outside `A-Za-z0-9-._~`, as the scripts do. */
function encodeKeyPart(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : "%" + byte.toString(16).padStart(2, "0");
  }
  return out;
}

function pad(n: number): string {
  return String(Math.min(Math.max(0, n), 999_999_999_999_999)).padStart(15, "0");
}

function optional(value: string | null | undefined): string {
  return value == null ? "" : "=" + value;
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

/**
 * Keeps sessions of one mode in Upstash Redis (or any Redis behind the
 * Upstash REST API) under `<prefix>:<mode>:`.
 *
 * @typeParam M The mode of the sessions held.
 *
 * @example In an edge function
 * ```ts ignore
 * import { UpstashRedisStorage } from "@agentstate/storage/upstash";
 * const storage = new UpstashRedisStorage({
 *   url: Deno.env.get("UPSTASH_REDIS_REST_URL"),
 *   token: Deno.env.get("UPSTASH_REDIS_REST_TOKEN"),
 *   ttlMs: 7 * 24 * 3600 * 1000,
 * });
 * await storage.upsert({ sessionId: "chat-1", memory: { turns: 1 } });
 * ```
 */
export class UpstashRedisStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
  /** Every write is one atomic script. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: true, persistent: true };
  /** `<prefix>:<mode>:`, the start of every key of this storage. */
  readonly keyPrefix: string;
  #options: UpstashRedisStorageOptions<M>;
  #redis: UpstashRedisLike | null;
  #shas = new Map<string, Promise<string>>();
  #maxBytes: number;

  /** Checks the options; connects (lazily) on first use. */
  constructor(options: UpstashRedisStorageOptions<M>) {
    super("upstash", options);
    const prefix = options?.prefix ?? "agentstate";
    if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
      throw new ValidationError([{ path: ["prefix"], message: "expected 1-64 characters of A-Za-z0-9._-" }]);
    }
    if (!options.redis && (typeof options.url !== "string" || typeof options.token !== "string")) {
      throw new ValidationError([{ path: ["url"], message: "url and token are required without a redis client" }]);
    }
    this.keyPrefix = `${prefix}:${this.mode}:`;
    this.#options = options;
    this.#redis = options.redis ?? null;
    this.#maxBytes = options.maxRequestBytes ?? 10 * 1024 * 1024;
  }

  async #client(): Promise<UpstashRedisLike> {
    if (this.#redis) return this.#redis;
    const { Redis } = await import("@upstash/redis");
    this.#redis = new Redis({
      url: this.#options.url!,
      token: this.#options.token!,
      automaticDeserialization: false,
      enableTelemetry: false,
      ...(this.#options.retries !== undefined ? { retry: { retries: this.#options.retries } } : {}),
    }) as unknown as UpstashRedisLike;
    return this.#redis;
  }

  #sha(script: string): Promise<string> {
    let sha = this.#shas.get(script);
    if (!sha) {
      sha = crypto.subtle.digest("SHA-1", new TextEncoder().encode(script))
        .then((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join(""));
      this.#shas.set(script, sha);
    }
    return sha;
  }

  /** Runs a script by SHA (one request), loading it with `EVAL` the first time Redis does not know it. */
  async #run(script: string, args: (string | number)[]): Promise<unknown> {
    const all = [this.keyPrefix, ...args];
    const bytes = new TextEncoder().encode(JSON.stringify(all)).length + script.length + 64;
    if (bytes > this.#maxBytes) {
      throw new ValidationError([{
        path: [],
        message: `the request would be ${bytes} bytes, over the ${this.#maxBytes}-byte limit of Upstash requests`,
      }]);
    }
    const redis = await this.#client();
    try {
      return await redis.evalsha(await this.#sha(script), [], all);
    } catch (error) {
      if (!/NOSCRIPT/i.test(String((error as Error)?.message))) throw error;
      return await redis.eval(script, [], all);
    }
  }

  #location(sessionId: string): string {
    return `${this.keyPrefix}s:${encodeKeyPart(sessionId)}`;
  }

  /** Turns an `HGETALL` reply (flat array or object) into a session. */
  #toSession(sessionId: string, reply: unknown): SessionOf<M> | null {
    const location = this.#location(sessionId);
    let hash: Record<string, unknown>;
    if (reply == null) return null;
    if (Array.isArray(reply)) {
      if (reply.length === 0) return null;
      hash = {};
      for (let i = 0; i + 1 < reply.length; i += 2) hash[String(reply[i])] = reply[i + 1];
    } else if (typeof reply === "object") {
      hash = reply as Record<string, unknown>;
      if (Object.keys(hash).length === 0) return null;
    } else throw new CorruptRecordError(location, "not a hash", { backend: this.backend });
    let content: Record<string, unknown>;
    try {
      content = typeof hash.d === "string" ? JSON.parse(hash.d) : hash.d as Record<string, unknown>;
      if (typeof content !== "object" || content === null) throw new Error("not an object");
    } catch (error) {
      throw new CorruptRecordError(location, "field d is not a JSON object", { cause: error, backend: this.backend });
    }
    const f = MODE_FIELDS[this.mode];
    const record: Record<string, unknown> = {};
    for (const name of f.all) {
      if (name === "sessionId") record[name] = sessionId;
      else if (name === "userId") record[name] = hash.u == null ? null : String(hash.u).slice(1);
      else if (name === "sessionName") record[name] = hash.n == null ? null : String(hash.n).slice(1);
      else if (name === f.entity) record[name] = hash.e == null ? null : String(hash.e).slice(1);
      else if (name === "createdAt") record[name] = Number(hash.c);
      else if (name === "updatedAt") record[name] = Number(hash.m);
      else if (name === "version") record[name] = Number(hash.v);
      else record[name] = content[name] ?? null;
    }
    return parseStoredSession(this.mode, record, location);
  }

  #sessionArgs(session: SessionContent<M>): string[] {
    const f = MODE_FIELDS[this.mode];
    const s = session as unknown as Record<string, unknown>;
    const rest: Record<string, unknown> = {};
    for (const name of [...f.strings.slice(1), ...f.objects]) rest[name] = s[name];
    return [
      session.sessionId,
      optional(session.userId),
      optional(session.sessionName),
      optional(s[f.entity] as string | null),
      JSON.stringify(rest),
    ];
  }

  /** Keys appear with the first write: nothing to create. */
  protected doCreate(): Promise<void> {
    return Promise.resolve();
  }

  /** One `HGETALL`. */
  protected async doRead(sessionId: string): Promise<SessionOf<M> | null> {
    const redis = await this.#client();
    let reply: unknown;
    try {
      reply = await redis.hgetall(this.#location(sessionId));
    } catch (error) {
      if (/WRONGTYPE/.test(String((error as Error)?.message))) {
        throw new CorruptRecordError(this.#location(sessionId), "not a hash", { cause: error, backend: this.backend });
      }
      throw error;
    }
    return this.#toSession(sessionId, reply);
  }

  /** One script for the whole batch: checks every session, then writes them all. */
  protected async doWrite(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    const reply = await this.#run(scripts.UPSERT, [
      context.now,
      context.liveAfter ?? "",
      context.expectedVersion ?? "",
      this.ttlMs ?? "",
      batch.length,
      ...batch.flatMap((s) => this.#sessionArgs(s)),
    ]) as unknown[];
    if (reply[0] === "mismatch") throw new UserMismatchError(String(reply[1]), { backend: this.backend });
    if (reply[0] === "conflict") {
      throw new ConflictError(String(reply[1]), context.expectedVersion ?? -1, Number(reply[2]), {
        backend: this.backend,
      });
    }
    return batch.map((content, i) =>
      ({
        ...cloneJson(content),
        createdAt: Number(reply[1 + i * 3]),
        updatedAt: Number(reply[2 + i * 3]),
        version: Number(reply[3 + i * 3]),
      }) as unknown as SessionOf<M>
    );
  }

  /** One script. */
  protected async doDelete(sessionId: string, context: ChangeContext): Promise<boolean> {
    const reply = await this.#run(scripts.DELETE, [sessionId, optional(context.userId), context.liveAfter ?? ""]);
    return Number(reply) === 1;
  }

  /** One script, returning the renamed session's hash. */
  protected async doRename(
    sessionId: string,
    sessionName: string | null,
    context: ChangeContext,
  ): Promise<SessionOf<M> | null> {
    const reply = await this.#run(scripts.RENAME, [
      sessionId,
      optional(sessionName),
      optional(context.userId),
      context.liveAfter ?? "",
      context.now,
      this.ttlMs ?? "",
    ]);
    return this.#toSession(sessionId, reply);
  }

  /** One script walking the index that fits the filter, from the cursor. */
  protected async doList(query: ListQuery): Promise<SessionOf<M>[]> {
    const sortField = query.sortBy === "createdAt" ? "c" : "u";
    const index = query.userId !== undefined
      ? `x:u${sortField}:${encodeKeyPart(query.userId)}`
      : query.entityId !== undefined
      ? `x:e${sortField}:${encodeKeyPart(query.entityId)}`
      : `x:${sortField}`;
    let low = "-";
    let high = "+";
    const after = query.sortBy === "createdAt" ? query.createdAfter : query.updatedAfter;
    const before = query.sortBy === "createdAt" ? query.createdBefore : query.updatedBefore;
    if (after !== undefined && after >= 0) low = "[" + pad(Math.floor(after) + 1);
    if (before !== undefined) high = before <= 0 ? "(" + pad(0) : "(" + pad(Math.ceil(before));
    if (query.after !== null) {
      const position = `(${pad(query.after.value)}:${query.after.sessionId}`;
      if (query.order === "asc") low = laterStart(low, position);
      else high = earlierEnd(high, position);
    }
    const reply = await this.#run(scripts.LIST, [
      index,
      query.order,
      query.limit + 1,
      low,
      high,
      query.sortBy === "createdAt" ? "c" : "m",
      optional(query.userId),
      optional(query.entityId),
      optional(query.sessionName),
      query.createdAfter ?? "",
      query.createdBefore ?? "",
      query.updatedAfter ?? "",
      query.updatedBefore ?? "",
      query.liveAfter ?? "",
    ]) as unknown[];
    const sessions: SessionOf<M>[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const session = this.#toSession(String(reply[i]).slice(1), reply[i + 1]);
      if (session) sessions.push(session);
    }
    return sessions;
  }

  /** One script: checks, pushes the runs, bumps the version. */
  protected override async doAppendRuns(
    sessionId: string,
    runs: JsonObject[],
    context: AppendContext,
  ): Promise<AppendRunsResult> {
    const reply = await this.#run(scripts.APPEND_RUNS, [
      sessionId,
      optional(context.userId),
      context.liveAfter ?? "",
      context.now,
      context.expectedVersion ?? "",
      this.ttlMs ?? "",
      ...runs.map((run) => JSON.stringify(run)),
    ]) as unknown[];
    if (reply[0] === "notfound") throw new SessionNotFoundError(sessionId, { backend: this.backend });
    if (reply[0] === "mismatch") throw new UserMismatchError(sessionId, { backend: this.backend });
    if (reply[0] === "conflict") {
      throw new ConflictError(sessionId, context.expectedVersion ?? -1, Number(reply[1]), { backend: this.backend });
    }
    return { version: Number(reply[1]), runCount: Number(reply[2]) };
  }

  /** One script: `LRANGE` of the page. */
  protected override async doGetRuns(sessionId: string, query: RunQuery): Promise<RunRecord[]> {
    const reply = await this.#run(scripts.GET_RUNS, [
      sessionId,
      optional(query.userId),
      query.liveAfter ?? "",
      query.afterSeq ?? "",
      query.limit + 1,
      query.order,
    ]) as unknown[];
    const runs = reply.map((text) => {
      try {
        return JSON.parse(String(text)) as RunRecord;
      } catch (error) {
        throw new CorruptRecordError(`${this.keyPrefix}r:${encodeKeyPart(sessionId)}`, "a run is not JSON", {
          cause: error,
          backend: this.backend,
        });
      }
    });
    return query.order === "asc" ? runs : runs.reverse();
  }

  /** One script for the whole import. */
  protected override async doImport(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: "skip" | "overwrite" | "fail",
    liveAfter: number | null,
  ): Promise<ImportResult> {
    const args: (string | number)[] = [onConflict, liveAfter ?? "", this.ttlMs ?? "", entries.length];
    for (const { session, runs } of entries) {
      args.push(...this.#sessionArgs(session), session.createdAt, session.updatedAt, session.version, runs.length);
      for (const r of runs) args.push(JSON.stringify(r));
    }
    const reply = await this.#run(scripts.IMPORT, args) as unknown[];
    if (reply[0] === "conflict") {
      throw new ConflictError(String(reply[1]), 0, Number(reply[2]), { backend: this.backend });
    }
    return { imported: Number(reply[1]), skipped: Number(reply[2]) };
  }

  /** Scripts removing up to 500 expired sessions each, until none is left. */
  protected async doPurge(liveAfter: number): Promise<number> {
    let total = 0;
    for (;;) {
      const [purged, scanned] = (await this.#run(scripts.PURGE, [liveAfter, BATCH]) as unknown[]).map(Number);
      total += purged!;
      if (scanned! < BATCH) return total;
    }
  }

  /** Scripts removing up to 500 sessions each, then the indexes: only keys under this prefix and mode. */
  protected async doDrop(): Promise<void> {
    while (Number(await this.#run(scripts.DROP, [BATCH])) > 0) {
      // keep going until the index is empty
    }
  }

  /** The REST client holds no connection. */
  protected doClose(): Promise<void> {
    return Promise.resolve();
  }
}
