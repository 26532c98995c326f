/** RedisStorage (TCP) on a real redis-server, for the conformance and property suites and the Redis tests. */
import { RedisStorage } from "../../backends/redis.ts";
import type { StoreTestInitializer } from "../conformance/mod.ts";
import { type RedisServer, startRedisServer } from "./upstash_bridge.ts";

/** RedisStorage over TCP to a fresh redis-server per case, a key prefix per place. */
export function redisTcpBackend(): StoreTestInitializer {
  let server: RedisServer;
  return {
    name: "redis (tcp)",
    async setup() {
      server = await startRedisServer();
    },
    create: (options, place) =>
      Promise.resolve(new RedisStorage({ ...options, url: `redis://127.0.0.1:${server.port}`, prefix: place })),
    async teardown() {
      await server.stop();
    },
  };
}
