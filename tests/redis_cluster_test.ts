/**
 * The throwaway Redis Cluster (tests/support/redis_cluster.ts): three
 * masters sharing all 16384 slots, keys routed by slot (MOVED elsewhere),
 * hash-tagged keys on one slot usable together in one script, and nothing
 * left behind after dispose.
 */
import assert from "node:assert/strict";
import { createCluster } from "@redis/client";
import { startRedisCluster } from "./support/redis_cluster.ts";
import { isRespError, redisServerAvailable, RespConnection, type RespValue } from "./support/upstash_bridge.ts";

const inCi = Deno.env.get("CI") === "true";
// In CI a missing redis-server is a failure: the tests run and fail with how to install it.
const ignore = !(await redisServerAvailable()) && !inCi;
if (ignore) console.warn("skipping Redis Cluster tests: redis-server is missing (apt-get install -y redis-server)");

const text = (value: RespValue): string =>
  value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value);

async function send(port: number, args: string[]): Promise<RespValue> {
  const connection = await RespConnection.connect(port);
  try {
    return await connection.send(args);
  } finally {
    await connection.close();
  }
}

Deno.test({ name: "redis cluster: three masters own all slots and route keys", ignore }, async () => {
  let ports: number[];
  let dir: string | undefined;
  {
    await using cluster = await startRedisCluster();
    ports = cluster.nodes.map((node) => node.port);
    assert.equal(new Set(ports).size, 3);
    assert.deepEqual(cluster.urls, ports.map((port) => `redis://127.0.0.1:${port}`));
    // Each master owns one contiguous range; together they cover 0..16383.
    const ranges = (await send(ports[0]!, ["CLUSTER", "SLOTS"]) as RespValue[][])
      .map(([from, to, master]) => [Number(from), Number(to), Number((master as RespValue[])[1])])
      .sort((a, b) => a[0]! - b[0]!);
    assert.equal(ranges.length, 3);
    assert.deepEqual(new Set(ranges.map((r) => r[2])), new Set(ports));
    assert.equal(ranges[0]![0], 0);
    assert.equal(ranges[2]![1], 16383);
    for (let i = 1; i < 3; i++) assert.equal(ranges[i]![0], ranges[i - 1]![1]! + 1);
    const info = text(await send(ports[1]!, ["CLUSTER", "INFO"]));
    assert.match(info, /cluster_state:ok/);
    const config = await send(ports[0]!, ["CONFIG", "GET", "dir"]) as RespValue[];
    dir = text(config[1]!);

    // Prefixes spread over the three masters; the owner accepts a key, the others answer MOVED to it.
    const owners = new Map<number, string>();
    for (let i = 0; owners.size < 3 && i < 100; i++) owners.set(await cluster.masterOf(`{p${i}}:x`), `p${i}`);
    assert.equal(owners.size, 3, "hash tags p0..p99 should land on all three masters");
    for (const [port, prefix] of owners) {
      assert.equal(await send(port, ["SET", `{${prefix}}:a`, "1"]), "OK");
      const other = ports.find((p) => p !== port)!;
      const moved = await send(other, ["GET", `{${prefix}}:a`]);
      assert.ok(isRespError(moved), `expected MOVED, got ${text(moved)}`);
      assert.match(moved.error, new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:${port}$`));
      // Two keys sharing the hash tag are one slot: one script may touch both.
      const reply = await send(port, [
        "EVAL",
        "redis.call('SET', KEYS[2], ARGV[1]); return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])",
        "2",
        `{${prefix}}:a`,
        `{${prefix}}:b`,
        "2",
      ]);
      assert.equal(text(reply), "12");
      const crossSlot = await send(port, ["MGET", `{${prefix}}:a`, `{${prefix}x}:a`]);
      assert.ok(isRespError(crossSlot) && /^CROSSSLOT/.test(crossSlot.error));
    }
  }
  for (const port of ports) await assert.rejects(RespConnection.connect(port), Deno.errors.ConnectionRefused);
  assert.ok(dir);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test(
  { name: "redis cluster: the chosen client (@redis/client) runs a tagged script on every master", ignore },
  async () => {
    await using cluster = await startRedisCluster();
    const client = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) });
    await client.connect();
    try {
      const placed = new Map<number, string>();
      for (let i = 0; placed.size < 3 && i < 100; i++) placed.set(await cluster.masterOf(`{t${i}}`), `t${i}`);
      assert.equal(placed.size, 3);
      for (const [port, tag] of placed) {
        const keys = [`{${tag}}:a`, `{${tag}}:b`, `{${tag}}:c`];
        const reply = await client.eval(
          "for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[i]) end return #KEYS",
          { keys, arguments: ["x", "y", "z"] },
        );
        assert.equal(reply, 3);
        const values = await send(port, ["MGET", ...keys]) as RespValue[];
        assert.deepEqual(values.map(text), ["x", "y", "z"], `the keys of {${tag}} should be on port ${port}`);
      }
    } finally {
      client.destroy();
    }
  },
);
