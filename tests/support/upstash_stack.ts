/** A redis-server with the REST bridge in front, for the Upstash tests. */
import { UpstashRedisStorage } from "../../backends/upstash.ts";
import { RespConnection, startRedisServer, startUpstashBridge, type UpstashBridge } from "./upstash_bridge.ts";

/** Runs `fn` with a direct connection to a fresh redis-server and a bridge in front of it; stops both after. */
export async function withRedis(fn: (redis: RespConnection, bridge: UpstashBridge) => Promise<void>): Promise<void> {
  const server = await startRedisServer();
  const bridge = await startUpstashBridge({ redisPort: server.port });
  const redis = await RespConnection.connect(server.port);
  try {
    await fn(redis, bridge);
  } finally {
    await redis.close();
    await bridge.stop();
    await server.stop();
  }
}

/** A storage through `bridge`, without client retries unless `extra` says otherwise. */
export function open(bridge: UpstashBridge, extra: Record<string, unknown> = {}): UpstashRedisStorage {
  return new UpstashRedisStorage({ url: bridge.url, token: bridge.token, retries: 0, ...extra });
}
