/** RedisStorage (TCP) on a real redis-server, for the conformance and property suites and the Redis tests. */
import { RedisStorage } from "../../backends/redis.ts";
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
