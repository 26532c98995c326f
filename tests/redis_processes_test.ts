/**
 * RedisStorage from several OS processes at once: 4 processes × 50
 * read-increment-write cycles with `expectedVersion` on one session lose no
 * update, on a standalone redis-server and on a 3-master cluster.
 */
import assert from "node:assert/strict";
import { RedisStorage } from "../backends/redis.ts";
import { skipRedis } from "./support/backends.ts";
import { startRedisCluster } from "./support/redis_cluster.ts";
import { startRedisServer } from "./support/upstash_bridge.ts";

const ignore = await skipRedis();
const worker = new URL("./support/redis_worker.ts", import.meta.url).pathname;
const config = new URL("../deno.json", import.meta.url).pathname;

/** Runs 4 workers on `url` and checks the counter; returns the conflicts they retried. */
async function fourProcesses(url: string): Promise<number> {
  const children = Array.from({ length: 4 }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, worker, "increment", url, "count", "50"],
      stdout: "piped",
      stderr: "inherit",
      env: { NO_COLOR: "1" },
    }).output());
  const results = await Promise.all(children.map(async (child) => {
    const { code, stdout } = await child;
    assert.equal(code, 0);
    return JSON.parse(new TextDecoder().decode(stdout)) as { writes: number; conflicts: number };
  }));
  const writes = results.reduce((n, r) => n + r.writes, 0);
  await using storage = new RedisStorage({ url, prefix: "count" });
  const counter = await storage.read("counter");
  assert.equal(writes, 200);
  assert.equal(counter?.memory?.count, 200, "the counter equals the number of successful writes");
  assert.equal(counter?.version, 200);
  return results.reduce((n, r) => n + r.conflicts, 0);
}

Deno.test({
  name: "RedisStorage: 4 processes × 50 read-increment-write cycles lose no update (redis-server)",
  ignore,
  async fn() {
    const server = await startRedisServer();
    try {
      const conflicts = await fourProcesses(`redis://127.0.0.1:${server.port}`);
      console.log(`redis multi-process: 200 writes, ${conflicts} conflicts retried`);
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "RedisStorage: 4 processes × 50 read-increment-write cycles lose no update (Redis Cluster)",
  ignore,
  async fn() {
    await using cluster = await startRedisCluster();
    const conflicts = await fourProcesses(`${cluster.urls[1]}?cluster=true`);
    console.log(`redis cluster multi-process: 200 writes, ${conflicts} conflicts retried`);
  },
});
