/** RedisStorage (TCP) on a real redis-server or Redis Cluster, for the conformance and property suites and the Redis tests. */
import { RedisStorage } from "../../backends/redis.ts";
import { type RedisCluster, startRedisCluster } from "./redis_cluster.ts";
import type { StoreTestInitializer } from "../conformance/mod.ts";
import { type RedisServer, RespConnection, startRedisServer } from "./upstash_bridge.ts";

/**
 * RedisStorage over TCP to a fresh redis-server per case, a key prefix per
 * place; with `password`, the server requires it (`requirepass`) and the URL
 * carries it.
 */
export function redisTcpBackend(options: { password?: string } = {}): StoreTestInitializer {
  let server: RedisServer;
  const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`;
  return {
    name: options.password === undefined ? "redis (tcp)" : "redis (tcp, requirepass)",
    async setup() {
      server = await startRedisServer();
      if (options.password === undefined) return;
      const admin = await RespConnection.connect(server.port);
      try {
        await admin.send(["CONFIG", "SET", "requirepass", options.password]);
      } finally {
        await admin.close();
      }
    },
    create: (storageOptions, place) =>
      Promise.resolve(
        new RedisStorage({ ...storageOptions, url: `redis://${auth}127.0.0.1:${server.port}`, prefix: place }),
      ),
    async teardown() {
      await server.stop();
    },
  };
}

/** A {@linkcode redisClusterBackend}: the initializer, and where its storages' prefixes were put. */
export interface ClusterBackend extends StoreTestInitializer {
  /** Every prefix made so far, with its hash slot and the port of the master that owns the slot. */
  readonly placed: Map<string, { slot: number; port: number }>;
  /** The cluster (started by the first `setup`). */
  cluster(): Promise<RedisCluster>;
}

/**
 * RedisStorage on one shared 3-master cluster (started by the first case,
 * stopped by the caller), over `redis://<node>?cluster=true`. Each place gets
 * a prefix chosen so that the places go round the three masters in turn.
 */
export function redisClusterBackend(): ClusterBackend {
  let started: Promise<RedisCluster> | undefined;
  const cluster = () => started ??= startRedisCluster();
  const placed = new Map<string, { slot: number; port: number }>();
  const prefixes = new Map<string, string>();
  let made = 0;
  const prefixFor = async (place: string): Promise<string> => {
    const known = prefixes.get(place);
    if (known) return known;
    const c = await cluster();
    const want = c.nodes[made++ % c.nodes.length]!.port;
    for (let n = 0;; n++) {
      const prefix = `${place}-${n}`;
      const where = await c.placeOf(`{${prefix}}`);
      if (where.port !== want) continue;
      prefixes.set(place, prefix);
      placed.set(prefix, where);
      return prefix;
    }
  };
  return {
    name: "redis (cluster)",
    placed,
    cluster,
    async setup() {
      await cluster();
    },
    async create(storageOptions, place) {
      const prefix = await prefixFor(place);
      const seed = (await cluster()).urls[made % 3]!;
      return new RedisStorage({ ...storageOptions, url: `${seed}?cluster=true`, prefix });
    },
  };
}
