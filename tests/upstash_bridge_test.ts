import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { redisServerAvailable, startRedisServer } from "./support/resp.ts";
import { startUpstashBridge } from "./support/upstash_bridge.ts";

const available = await redisServerAvailable();
if (!available && Deno.env.get("CI") !== "true") {
  console.warn("skipping Upstash bridge tests: redis-server is missing (apt-get install -y redis-server)");
}

async function withBridge(fn: (redis: Redis, bridge: Awaited<ReturnType<typeof startUpstashBridge>>) => Promise<void>) {
  const server = await startRedisServer();
  const bridge = await startUpstashBridge({ redisPort: server.port });
  try {
    const redis = new Redis({
      url: bridge.url,
      token: bridge.token,
      retry: { retries: 0 },
      automaticDeserialization: false,
      enableTelemetry: false,
    });
    await fn(redis, bridge);
  } finally {
    await bridge.stop();
    await server.stop();
  }
}

const ignore = !available && Deno.env.get("CI") !== "true";

Deno.test({
  name: "upstash bridge: the real @upstash/redis client round-trips commands, pipelines, transactions and scripts",
  ignore,
  fn: () =>
    withBridge(async (redis, bridge) => {
      assert.equal(await redis.set("k", "v é 😀 \u0000 end"), "OK");
      assert.equal(await redis.get("k"), "v é 😀 \u0000 end");
      assert.equal(await redis.get("missing"), null);
      assert.equal(await redis.incr("n"), 1);
      await redis.hset("h", { a: "1", b: "two" });
      assert.deepEqual(await redis.hgetall("h"), ["a", "1", "b", "two"]); // raw: automaticDeserialization is off
      await redis.zadd("z", { score: 0, member: "b" }, { score: 0, member: "a" });
      assert.deepEqual(await redis.zrange("z", 0, -1), ["a", "b"]);
      const pipeline = redis.pipeline();
      pipeline.incr("n");
      pipeline.get("k");
      assert.deepEqual(await pipeline.exec(), [2, "v é 😀 \u0000 end"]);
      const tx = redis.multi();
      tx.incr("n");
      tx.incr("n");
      assert.deepEqual(await tx.exec(), [3, 4]);
      assert.deepEqual(await redis.eval("return {ARGV[1], 7, false}", [], ["x"]), ["x", 7, null]);
      bridge.resetCounts();
      await redis.get("k");
      assert.equal(bridge.requests, 1);
      await assert.rejects(redis.eval("return redis.call('NOPE')", [], []), /ERR/);
    }),
});

Deno.test({
  name: "upstash bridge: wrong token is refused, faults surface as client errors",
  ignore,
  fn: () =>
    withBridge(async (redis, bridge) => {
      const wrong = new Redis({ url: bridge.url, token: "wrong", retry: { retries: 0 }, enableTelemetry: false });
      await assert.rejects(wrong.get("k"), /Unauthorized/);
      for (const kind of ["status500", "garbage", "drop"] as const) {
        bridge.fault = { kind, count: 1 };
        await assert.rejects(redis.set("f", kind));
        assert.equal(await redis.get("f"), null, `${kind}: nothing ran`);
      }
    }),
});
