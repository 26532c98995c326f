/**
 * {@linkcode RedisStorage}: sessions in Redis or Valkey over TCP
 * (`@redis/client`), with the same keys, scripts and encoding as
 * {@linkcode UpstashRedisStorage}, so data written over Upstash's REST API
 * reads over TCP and back.
 *
 * The session rules live in the Redis engine (`engines/redis/`): every write
 * is one Lua script (atomic, one round trip, safe to send twice), a read one
 * script, a list page one script. This file is only the TCP client: URL
 * schemes, connecting, reply shapes.
 *
 * @module
 */
import type { RedisReply, ScriptClient } from "../engines/redis/client.ts";
import { RedisEngine } from "../engines/redis/engine.ts";
import { BaseSessionStorage } from "../session/base.ts";
import { ValidationError } from "../session/errors.ts";
import type { BaseStorageOptions, SessionMode, StorageCapabilities } from "../session/types.ts";

/** The part of an `@redis/client` client (`createClient()`) this storage uses; pass a connected one. */
export interface RedisClientLike {
  /** `EVALSHA`. */
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** `SCRIPT LOAD`. */
  scriptLoad(script: string): Promise<unknown>;
}

/** Options of {@linkcode RedisStorage}. */
export interface RedisStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /**
   * `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS) or
   * `valkey://…` (the same as `redis://`). Not needed with `client`.
   */
  url?: string;
  /**
   * Key prefix, 1–64 characters of `A-Za-z0-9._-`; keys are `<prefix>:<mode>:…`.
   * @default {"agentstate"}
   */
  prefix?: string;
  /** A connected client made by the caller; `close()` leaves it open. */
  client?: RedisClientLike;
  /**
   * How long to wait for a connection, in milliseconds.
   * @default {5000}
   */
  connectTimeoutMs?: number;
}

const PREFIX = /^[A-Za-z0-9._-]{1,64}$/;
const SCHEMES = /^(redis|rediss|valkey):\/\//;
const OPTION_KEYS = ["url", "prefix", "client", "connectTimeoutMs"] as const;

/**
 * Keeps sessions of one mode in Redis or Valkey under `<prefix>:<mode>:`,
 * over one TCP connection opened on first use.
 *
 * @typeParam M The mode of the sessions held.
 *
 * @example On a local Redis
 * ```ts ignore
 * import { RedisStorage } from "@agentstate/storage/redis";
 * await using storage = new RedisStorage({ url: "redis://127.0.0.1:6379" });
 * await storage.upsert({ sessionId: "chat-1", memory: { turns: 1 } });
 * ```
 */
export class RedisStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
  /** Every write is one atomic script. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: true, persistent: true };
  /** `<prefix>:<mode>:`, the start of every key of this storage. */
  readonly keyPrefix: string;

  /** Checks the options; connects on first use. */
  constructor(options: RedisStorageOptions<M>) {
    const prefix = options?.prefix ?? "agentstate";
    if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
      throw new ValidationError([{ path: ["prefix"], message: "expected 1-64 characters of A-Za-z0-9._-" }]);
    }
    if (!options.client && (typeof options.url !== "string" || !SCHEMES.test(options.url))) {
      throw new ValidationError([{
        path: ["url"],
        message: "expected a redis://, rediss:// or valkey:// URL (or a client)",
      }]);
    }
    const timeout = options.connectTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(timeout) || timeout < 1) {
      throw new ValidationError([{ path: ["connectTimeoutMs"], message: "expected a positive whole number" }]);
    }
    let connection: Promise<Connection> | null = null;
    // A failed first connection is not kept: the next call tries again.
    const open = () =>
      connection ??= connect(options, timeout).catch((error) => {
        connection = null;
        throw error;
      });
    super("redis", options, OPTION_KEYS, (mode) =>
      new RedisEngine({
        mode,
        keyPrefix: `${prefix}:${mode}:`,
        ttlMs: options.ttlMs ?? null,
        client: async () => (await open()).client,
        close: async () => {
          const opened = connection;
          connection = null;
          if (opened) await (await opened.catch(() => null))?.close();
        },
      }));
    this.keyPrefix = `${prefix}:${this.mode}:`;
  }
}

/** A script client and how to release what it holds. */
interface Connection {
  client: ScriptClient;
  close(): Promise<void>;
}

async function connect<M extends SessionMode>(options: RedisStorageOptions<M>, timeout: number): Promise<Connection> {
  if (options.client) return { client: new TcpScriptClient(options.client), close: () => Promise.resolve() };
  const { createClient } = await import("@redis/client");
  const url = options.url!.replace(/^valkey:\/\//, "redis://");
  let connected = false;
  const redis = createClient({
    url,
    // Commands sent while the connection is down fail at once (a StorageError) instead of waiting unbounded.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeout,
      // The first connection fails with its cause (refused, bad password, timeout); a lost one is retried.
      reconnectStrategy: (retries: number, cause: Error) => connected ? Math.min(50 * 2 ** retries, 2000) : cause,
    },
  });
  redis.on("error", () => {}); // every failure also rejects the command that met it
  try {
    await redis.connect();
    connected = true;
  } catch (error) {
    if (redis.isOpen) redis.destroy();
    throw error;
  }
  return {
    client: new TcpScriptClient(redis as unknown as RedisClientLike),
    close: async () => {
      if (redis.isReady) await redis.close();
      else if (redis.isOpen) redis.destroy();
    },
  };
}

/** An `@redis/client` client as a {@linkcode ScriptClient}: checks reply shapes. */
class TcpScriptClient implements ScriptClient {
  readonly #redis: RedisClientLike;

  constructor(redis: RedisClientLike) {
    this.#redis = redis;
  }

  async evalsha(sha: string, keys: string[], args: string[]): Promise<RedisReply> {
    return toReply(await this.#redis.evalSha(sha, { keys, arguments: args }));
  }

  async scriptLoad(script: string): Promise<string> {
    const sha = await this.#redis.scriptLoad(script);
    if (typeof sha !== "string") throw new Error(`SCRIPT LOAD answered ${typeof sha}`);
    return sha;
  }
}

/** A RESP reply as a {@linkcode RedisReply}: strings, integers, `null`, arrays of those. */
function toReply(value: unknown): RedisReply {
  if (value === null || typeof value === "string" || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map(toReply);
  throw new Error(`unexpected reply of type ${typeof value} from Redis`);
}
