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
import type { BaseStorageOptions, JsonObject, SessionMode, StorageCapabilities } from "../session/types.ts";

/**
 * The part of an `@redis/client` client this storage uses: a connected
 * `createClient()` or `createCluster()` client (both route a script by its
 * first key).
 */
export interface RedisClientLike {
  /** `EVALSHA`. */
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** `EVAL` (after `NOSCRIPT`: runs and loads the script on the node that serves the keys). */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Options of {@linkcode RedisStorage}. */
export interface RedisStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /**
   * `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS) or
   * `valkey://…` (the same as `redis://`). Not needed with `client`. A
   * Redis Cluster: any node's URL with `?cluster=true` (or `cluster: true`);
   * the client finds the other nodes from it.
   */
  url?: string;
  /**
   * The URL names a node of a Redis Cluster: connect with `createCluster`,
   * which sends each script to the master of its keys' slot.
   * @default {false, or true when the URL has `?cluster=true` or `client` is a `createCluster()` client}
   */
  cluster?: boolean;
  /**
   * Key prefix, 1–64 characters of `A-Za-z0-9._-`; keys are
   * `{<prefix>}:<mode>:…`, so a storage's keys are all on one hash slot (one
   * node of a cluster: spread tenants across prefixes to spread the load).
   * @default {"agentstate"}
   */
  prefix?: string;
  /** A connected client made by the caller (`createClient()` or `createCluster()`); `close()` leaves it open. */
  client?: RedisClientLike;
  /**
   * How long to wait for a connection, in milliseconds.
   * @default {5000}
   */
  connectTimeoutMs?: number;
}

const PREFIX = /^[A-Za-z0-9._-]{1,64}$/;
const SCHEMES = /^(redis|rediss|valkey):\/\//;
const OPTION_KEYS = ["url", "cluster", "prefix", "client", "connectTimeoutMs"] as const;

/**
 * Keeps sessions of one mode in Redis, Valkey or a Redis Cluster under
 * `{<prefix>}:<mode>:` (one hash slot), over one TCP connection (one per
 * master on a cluster) opened on first use.
 *
 * @typeParam M The mode of the sessions held.
 * @typeParam Memory What `memory` holds; `Data` what `sessionData` holds; `Run` what a run holds (JSON objects unless given).
 *
 * @example On a local Redis
 * ```ts ignore
 * import { RedisStorage } from "@agentstate/storage/redis";
 * await using storage = new RedisStorage({ url: "redis://127.0.0.1:6379" });
 * await storage.upsert({ sessionId: "chat-1", memory: { turns: 1 } });
 * ```
 *
 * @example On a Redis Cluster, one prefix per tenant (each prefix is one slot)
 * ```ts ignore
 * import { RedisStorage } from "@agentstate/storage/redis";
 * const forTenant = (tenant: string) =>
 *   new RedisStorage({ url: "redis://:secret@10.0.0.5:6379?cluster=true", prefix: tenant });
 * await forTenant("acme").upsert({ sessionId: "chat-1", memory: { turns: 1 } });
 * ```
 */
export class RedisStorage<M extends SessionMode = "agent", Memory = JsonObject, Data = JsonObject, Run = JsonObject>
  extends BaseSessionStorage<M, Memory, Data, Run> {
  /** Every write is one atomic script. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: true, persistent: true };
  /** `{<prefix>}:<mode>:`, the start of every key of this storage (keys of the untagged layout are moved here on first use). */
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
    if (options.cluster !== undefined && typeof options.cluster !== "boolean") {
      throw new ValidationError([{ path: ["cluster"], message: "expected true or false" }]);
    }
    const cluster = options.cluster ??
      (options.client ? isClusterClient(options.client) : urlSaysCluster(options.url!));
    const timeout = options.connectTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(timeout) || timeout < 1) {
      throw new ValidationError([{ path: ["connectTimeoutMs"], message: "expected a positive whole number" }]);
    }
    let connection: Promise<Connection> | null = null;
    // A failed first connection is not kept: the next call tries again.
    const open = () =>
      connection ??= connect(options, cluster, timeout).catch((error) => {
        connection = null;
        throw error;
      });
    super("redis", options, OPTION_KEYS, (mode) =>
      new RedisEngine({
        mode,
        keyPrefix: `{${prefix}}:${mode}:`,
        // Releases before the hash tag could not write to a cluster (their scripts' keys spanned slots).
        legacyKeyPrefix: cluster ? null : `${prefix}:${mode}:`,
        ttlMs: options.ttlMs ?? null,
        client: async () => (await open()).client,
        close: async () => {
          const opened = connection;
          connection = null;
          if (opened) await (await opened.catch(() => null))?.close();
        },
      }));
    this.keyPrefix = `{${prefix}}:${this.mode}:`;
  }
}

/** A script client and how to release what it holds. */
interface Connection {
  client: ScriptClient;
  close(): Promise<void>;
}

/** A `createCluster()` client (it lists the cluster's masters). */
function isClusterClient(client: RedisClientLike): boolean {
  return Array.isArray((client as { masters?: unknown }).masters);
}

/** `url` without its `cluster=` query parameter, and that parameter's value (`undefined` when absent). */
function splitClusterParam(url: string): { url: string; cluster: string | undefined } {
  const at = url.indexOf("?");
  if (at < 0) return { url, cluster: undefined };
  const params = url.slice(at + 1).split("&");
  const value = params.find((p) => p.startsWith("cluster="))?.slice("cluster=".length);
  const rest = params.filter((p) => !p.startsWith("cluster="));
  return { url: url.slice(0, at) + (rest.length > 0 ? "?" + rest.join("&") : ""), cluster: value };
}

/** Whether `url` carries `?cluster=true`; any other `cluster=` value than true or false is a ValidationError. */
function urlSaysCluster(url: string): boolean {
  const { cluster } = splitClusterParam(url);
  if (cluster !== undefined && cluster !== "true" && cluster !== "false") {
    throw new ValidationError([{ path: ["url"], message: "expected cluster=true or cluster=false in the query" }]);
  }
  return cluster === "true";
}

/** A cluster seed URL's credentials and TLS, for the nodes the client finds from it. */
function nodeDefaults(url: string): { username?: string; password?: string; tls: boolean } {
  const seed = new URL(url);
  return {
    ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
    ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
    tls: seed.protocol === "rediss:",
  };
}

async function connect<M extends SessionMode>(
  options: RedisStorageOptions<M>,
  cluster: boolean,
  timeout: number,
): Promise<Connection> {
  if (options.client) return { client: new TcpScriptClient(options.client), close: () => Promise.resolve() };
  const { createClient, createCluster } = await import("@redis/client");
  const url = splitClusterParam(options.url!.replace(/^valkey:\/\//, "redis://")).url;
  let connected = false;
  const connection = {
    // Commands sent while the connection is down fail at once (a StorageError) instead of waiting unbounded.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeout,
      // The first connection fails with its cause (refused, bad password, timeout); a lost one is retried.
      reconnectStrategy: (retries: number, cause: Error) => connected ? Math.min(50 * 2 ** retries, 2000) : cause,
    },
  };
  let redis: Opened;
  if (cluster) {
    // Nodes found from the seed are connected with `defaults`: the seed URL's credentials and TLS go there too.
    const { tls, ...credentials } = nodeDefaults(url);
    redis = createCluster({
      rootNodes: [{ url }],
      defaults: { ...connection, ...credentials, socket: { ...connection.socket, ...(tls ? { tls } : {}) } },
    });
  } else {
    redis = createClient({ url, ...connection });
  }
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
      if (redis.isReady ?? redis.isOpen) await redis.close();
      else if (redis.isOpen) redis.destroy();
    },
  };
}

/** What `connect` needs of a `createClient()` or `createCluster()` client (a cluster has no `isReady`). */
interface Opened {
  on(event: "error", listener: () => void): unknown;
  connect(): Promise<unknown>;
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  close(): Promise<unknown>;
  destroy(): unknown;
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

  async eval(source: string, keys: string[], args: string[]): Promise<RedisReply> {
    return toReply(await this.#redis.eval(source, { keys, arguments: args }));
  }
}

/** A RESP reply as a {@linkcode RedisReply}: strings, integers, `null`, arrays of those. */
function toReply(value: unknown): RedisReply {
  if (value === null || typeof value === "string" || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map(toReply);
  throw new Error(`unexpected reply of type ${typeof value} from Redis`);
}
