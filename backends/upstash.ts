/**
 * {@linkcode UpstashRedisStorage}: sessions in Redis over Upstash's REST API
 * (`@upstash/redis`), so it works wherever `fetch` works: Deno Deploy, edge
 * workers, browsers, Node.
 *
 * The session rules live in the Redis engine (`engines/redis/`): every write
 * is one Lua script (atomic, one HTTP request, safe to send twice), a read one
 * script, a list page one script walking a sorted-set index, never `KEYS` or
 * `SCAN`. This file is only the REST client: the request-size limit, reply
 * shapes, and error messages without request bodies.
 *
 * @module
 */
import { BaseSessionStorage } from "../session/base.ts";
import { ValidationError } from "../session/errors.ts";
import type { BaseStorageOptions, JsonObject, SessionMode, StorageCapabilities } from "../session/types.ts";
import type { RedisReply, ScriptClient } from "../engines/redis/client.ts";
import { RedisEngine } from "../engines/redis/engine.ts";

/**
 * The part of `@upstash/redis`'s `Redis` client this storage uses. Pass a real
 * client, created with `automaticDeserialization: false`.
 */
export interface UpstashRedisLike {
  /** `EVALSHA`. */
  evalsha(sha: string, keys: string[], args: unknown[]): Promise<unknown>;
  /** `SCRIPT LOAD`. */
  scriptLoad(script: string): Promise<unknown>;
}

/** Options of {@linkcode UpstashRedisStorage}. */
export interface UpstashRedisStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** The database's REST URL (`UPSTASH_REDIS_REST_URL`). Not needed with `redis`. */
  url?: string;
  /** The database's REST token (`UPSTASH_REDIS_REST_TOKEN`). Not needed with `redis`. */
  token?: string;
  /**
   * Key prefix, 1–64 characters of `A-Za-z0-9._-`; keys are `{<prefix>}:<mode>:…`.
   * @default {"agentstate"}
   */
  prefix?: string;
  /** A client made by the caller (with `automaticDeserialization: false`). */
  redis?: UpstashRedisLike;
  /**
   * How often the client retries a failed request (safe: every write runs once however often it is sent).
   * @default {5}
   */
  retries?: number;
  /**
   * Largest request body sent, in bytes as sent (the escaped JSON); bigger
   * writes throw `ValidationError` before sending.
   * @default {10485760} (Upstash's 10 MB request limit)
   */
  maxRequestBytes?: number;
}

const PREFIX = /^[A-Za-z0-9._-]{1,64}$/;
const OPTION_KEYS = ["url", "token", "prefix", "redis", "retries", "maxRequestBytes"] as const;

/**
 * Keeps sessions of one mode in Upstash Redis (or any Redis behind the
 * Upstash REST API) under `{<prefix>}:<mode>:`.
 *
 * @typeParam M The mode of the sessions held.
 * @typeParam Memory What `memory` holds; `Data` what `sessionData` holds; `Run` what a run holds (JSON objects unless given).
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
export class UpstashRedisStorage<
  M extends SessionMode = "agent",
  Memory = JsonObject,
  Data = JsonObject,
  Run = JsonObject,
> extends BaseSessionStorage<M, Memory, Data, Run> {
  /** Every write is one atomic script. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: true, persistent: true };
  /** `{<prefix>}:<mode>:`, the start of every key of this storage (keys of the untagged layout are moved here on first use). */
  readonly keyPrefix: string;

  /** Checks the options; connects (lazily) on first use. */
  constructor(options: UpstashRedisStorageOptions<M>) {
    const prefix = options?.prefix ?? "agentstate";
    if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
      throw new ValidationError([{ path: ["prefix"], message: "expected 1-64 characters of A-Za-z0-9._-" }]);
    }
    if (!options.redis && (typeof options.url !== "string" || typeof options.token !== "string")) {
      throw new ValidationError([{ path: ["url"], message: "url and token are required without a redis client" }]);
    }
    const maxBytes = options.maxRequestBytes ?? 10 * 1024 * 1024;
    let client: Promise<ScriptClient> | null = null;
    super("upstash", options, OPTION_KEYS, (mode) =>
      new RedisEngine({
        mode,
        keyPrefix: `{${prefix}}:${mode}:`,
        legacyKeyPrefix: `${prefix}:${mode}:`,
        ttlMs: options.ttlMs ?? null,
        client: () => client ??= connect(options).then((redis) => new UpstashScriptClient(redis, maxBytes)),
      }));
    this.keyPrefix = `{${prefix}}:${this.mode}:`;
  }
}

async function connect<M extends SessionMode>(options: UpstashRedisStorageOptions<M>): Promise<UpstashRedisLike> {
  if (options.redis) return options.redis;
  const { Redis } = await import("@upstash/redis");
  return new Redis({
    url: options.url!,
    token: options.token!,
    automaticDeserialization: false,
    enableTelemetry: false,
    ...(options.retries !== undefined ? { retry: { retries: options.retries } } : {}),
  }) as unknown as UpstashRedisLike;
}

/**
 * The REST transport as a {@linkcode ScriptClient}: refuses a request whose
 * body (what `@upstash/redis` sends: the JSON command array) is over the
 * limit, checks reply shapes, and strips request bodies from error messages.
 */
class UpstashScriptClient implements ScriptClient {
  readonly #redis: UpstashRedisLike;
  readonly #maxBytes: number;

  constructor(redis: UpstashRedisLike, maxBytes: number) {
    this.#redis = redis;
    this.#maxBytes = maxBytes;
  }

  async evalsha(sha: string, keys: string[], args: string[]): Promise<RedisReply> {
    const bytes = requestBytes(["evalsha", sha, keys.length, ...keys, ...args]);
    if (bytes > this.#maxBytes) {
      throw new ValidationError([{
        path: [],
        message: `the request would be ${bytes} bytes, over the ${this.#maxBytes}-byte limit of Upstash requests`,
      }]);
    }
    return toReply(await quiet(this.#redis.evalsha(sha, keys, args)));
  }

  async scriptLoad(script: string): Promise<string> {
    const sha = await quiet(this.#redis.scriptLoad(script));
    if (typeof sha !== "string") throw new Error(`SCRIPT LOAD answered ${typeof sha}`);
    return sha;
  }
}

/** The size of the request body `@upstash/redis` sends for `command`: UTF-8 bytes of its JSON. */
function requestBytes(command: (string | number)[]): number {
  return new TextEncoder().encode(JSON.stringify(command)).length;
}

/** A REST reply as a {@linkcode RedisReply}: strings, integers, `null`, arrays of those. */
function toReply(value: unknown): RedisReply {
  if (value === null || typeof value === "string" || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map(toReply);
  throw new Error(`unexpected reply of type ${typeof value} from the REST API`);
}

/**
 * `@upstash/redis` puts the whole request body (session content) in its error
 * messages (`…, command was: [...]`) and a failed response body in parse
 * errors; the error chain is rebuilt without them.
 */
async function quiet<T>(request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    throw stripContent(error);
  }
}

function stripContent(error: unknown): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const message = original.message
    .replace(/,? command was: [\s\S]*$/, "")
    .replace(/^(Unable to parse response body):[\s\S]*$/, "$1");
  const copy = new Error(message, original.cause === undefined ? undefined : { cause: stripContent(original.cause) });
  copy.name = original.name;
  return copy;
}
