/**
 * `@redis/client` (node-redis v5) vs `ioredis@5` vs `iovalkey` from Deno against a
 * throwaway redis-server: EVALSHA of a small write script (3 keys, 5
 * arguments, ~2 KB value) and a pipeline of 20 HGETALL of ~2 KB hashes.
 * Not wired into bench/main.ts; run it alone:
 * `deno run --allow-all bench/redis_client_bench.ts [--smoke]`.
 */
import { Redis } from "ioredis";
import { Redis as Valkey } from "iovalkey";
import { createClient } from "@redis/client";
import { startRedisServer } from "../tests/support/upstash_bridge.ts";
import { type AbResult, abTable, alternate, type Contender } from "./ab.ts";
import { payload } from "./harness.ts";

/** A write shaped like a session upsert: read the version, write the hash, index it, touch a counter. */
export const SCRIPT = `
local old = redis.call('HGET', KEYS[1], 'version')
if old and ARGV[1] ~= '' and old ~= ARGV[1] then return {0, old} end
local version = (tonumber(old) or 0) + 1
redis.call('HSET', KEYS[1], 'version', version, 'data', ARGV[2], 'updated', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('SET', KEYS[3], ARGV[5])
return {1, version}`;

const SESSIONS = 200;

/** Runs the three clients on both workloads; returns a Markdown section. */
export async function redisClientSection({ smoke }: { smoke: boolean }): Promise<string> {
  const server = await startRedisServer();
  const url = `redis://${server.hostname}:${server.port}`;
  const nodeRedis = createClient({ url });
  await nodeRedis.connect();
  const ioredis = new Redis(url);
  const iovalkey = new Valkey(url);
  try {
    const data = JSON.stringify(payload(2, 2));
    const sha = await nodeRedis.scriptLoad(SCRIPT);
    for (let i = 0; i < SESSIONS; i++) {
      await nodeRedis.hSet(`{b}:s:${i}`, { version: "1", data, updated: String(Date.now()) });
    }
    const keys = (i: number) => [`{b}:s:${Math.abs(i) % SESSIONS}`, "{b}:index", "{b}:meta"];
    const args = (i: number) => ["", data, String(Date.now()), `s:${Math.abs(i) % SESSIONS}`, String(i)];
    const checkWrite = (reply: unknown) => {
      if (!Array.isArray(reply) || reply[0] !== 1) throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
    };
    const hashes = (i: number) => Array.from({ length: 20 }, (_, k) => `{b}:s:${(Math.abs(i) * 20 + k) % SESSIONS}`);
    const checkPage = (rows: unknown[]) => {
      if (rows.length !== 20) throw new Error(`${rows.length} replies, expected 20`);
    };
    /** ioredis and iovalkey share one API (iovalkey is a fork). */
    const ioContenders = (name: string, client: Redis | Valkey): [Contender, Contender] => [
      { name, op: async (i) => checkWrite(await client.evalsha(sha, 3, ...keys(i), ...args(i))) },
      {
        name,
        op: async (i) => {
          const pipeline = client.pipeline();
          for (const key of hashes(i)) pipeline.hgetall(key);
          const replies = (await pipeline.exec()) ?? [];
          for (const [error] of replies) if (error) throw error;
          checkPage(replies);
        },
      },
    ];
    const [ioWrite, ioPage] = ioContenders("ioredis@5", ioredis);
    const [valkeyWrite, valkeyPage] = ioContenders("iovalkey@0.4", iovalkey);
    const writes: Contender[] = [
      {
        name: "@redis/client@5",
        op: async (i) => checkWrite(await nodeRedis.evalSha(sha, { keys: keys(i), arguments: args(i) })),
      },
      ioWrite,
      valkeyWrite,
    ];
    const pages: Contender[] = [
      {
        name: "@redis/client@5",
        op: async (i) => {
          const multi = nodeRedis.multi();
          for (const key of hashes(i)) multi.hGetAll(key);
          checkPage(await multi.execAsPipeline());
        },
      },
      ioPage,
      valkeyPage,
    ];
    const options = smoke ? { rounds: 2, perRound: 10, warmup: 5 } : { rounds: 20, perRound: 200, warmup: 200 };
    const results: [string, AbResult[]][] = [
      ["EVALSHA (3 keys, 5 args, 2 KB)", await alternate(writes, options)],
      ["pipeline of 20 HGETALL (2 KB each)", await alternate(pages, options)],
    ];
    return `## Redis TCP client: @redis/client@5 vs ioredis@5 vs iovalkey (from Deno)\n\n` +
      `One connection each to the same local redis-server, ${SESSIONS} hashes, rounds alternating the clients ` +
      `(${options.rounds} rounds × ${options.perRound} ops). CPU is the whole Deno process's user + system time per ` +
      `op (median over rounds); wall is the median op.\n\n${abTable(results)}\n`;
  } finally {
    nodeRedis.destroy();
    ioredis.disconnect();
    iovalkey.disconnect();
    await server.stop();
  }
}

if (import.meta.main) {
  console.log(await redisClientSection({ smoke: Deno.args.includes("--smoke") }));
}
