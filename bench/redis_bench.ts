/**
 * RedisStorage over TCP beside the Upstash REST path on the same keys, and
 * on a 3-master Redis Cluster: time per operation and Redis commands per
 * operation (`INFO commandstats`) at 100, 10 000 and 100 000 sessions.
 */
import { RedisStorage } from "../backends/redis.ts";
import { UpstashRedisStorage } from "../backends/upstash.ts";
import { startRedisCluster } from "../tests/support/redis_cluster.ts";
import { startRedisServer, startUpstashBridge } from "../tests/support/upstash_bridge.ts";
import { measure, payload, table } from "./harness.ts";
import type { JsonObject } from "../session/types.ts";
import type { SectionOptions } from "./libsql_bench.ts";
import { countCommands, fill, workloads } from "./redis_workloads.ts";

/** Runs the Redis (TCP) workloads and returns a Markdown section. */
export async function redisSection({ smoke }: SectionOptions): Promise<string> {
  const sizes = smoke ? [100] : [100, 10_000, 100_000];
  const iterations = smoke ? 20 : 300;
  const server = await startRedisServer();
  const bridge = await startUpstashBridge({ redisPort: server.port });
  const small = payload(2, 4);
  const rows: (string | number)[][] = [];
  try {
    await using tcp = new RedisStorage({ url: `redis://127.0.0.1:${server.port}`, prefix: "bench" });
    await using rest = new UpstashRedisStorage({ url: bridge.url, token: bridge.token, retries: 0, prefix: "bench" });
    let have = 0;
    for (const size of sizes) {
      await fill(tcp, have, size, small);
      have = size;
      const cursor = (await tcp.listSessions({ userId: "u3", limit: 20 })).nextCursor!;
      for (const [name, work] of workloads(size, cursor, small)) {
        await work(tcp, 0); // loads the script
        const { sent, inside } = await countCommands([server.port], () => work(tcp, 1));
        const ours = await measure(name, (i) => work(tcp, i), iterations, 5);
        await work(rest, 2);
        bridge.resetCounts();
        await work(rest, 3);
        const requests = bridge.requests;
        const overRest = await measure(name, (i) => work(rest, i + 1_000_000), iterations, 5);
        rows.push([
          size.toLocaleString("en-US"),
          name,
          `${sent} / ${inside}`,
          ours.meanMs,
          ours.p50Ms,
          requests,
          overRest.meanMs,
        ]);
      }
    }
  } finally {
    await bridge.stop();
    await server.stop();
  }
  const clusterRows = await clusterSection(sizes, iterations, small);
  return `## Redis over TCP (RedisStorage) beside the Upstash REST path\n\nOne redis-server 7.0; RedisStorage ` +
    `(\`@redis/client\`, one connection) and UpstashRedisStorage (through the local REST bridge) on the same keys ` +
    `(prefix \`bench\`), 2 KB sessions, a quarter of them per user. Commands are counted with \`INFO commandstats\` ` +
    `around one call after the script is loaded: what the client sent (EVALSHA) / what the script ran inside Redis. ` +
    `Target: one command per operation from 100 to 100 000 sessions, and the commands inside a page flat too ` +
    `(a page walks the sorted-set index from its bound: no scan). ` +
    `No third-party Redis store is beside it here: \`@langchain/langgraph-checkpoint-redis\` needs the RedisJSON and ` +
    `RediSearch modules (Redis Stack or Redis 8), which Debian's redis-server 7.0 lacks, and stores LangGraph ` +
    `checkpoints, not sessions; Mastra's Redis store is \`@mastra/upstash\` (REST only), measured in the Upstash ` +
    `section.\n\n${
      table(
        [
          "sessions stored",
          "operation",
          "TCP: commands sent / run inside",
          "TCP mean ms",
          "TCP p50 ms",
          "REST: requests",
          "REST mean ms",
        ],
        rows,
      )
    }\n\nThe same on a 3-master Redis Cluster (\`tests/support/redis_cluster.ts\`, all on this machine) with prefix ` +
    `\`acme\` (slot 11 304, the third master), connected with \`?cluster=true\`; commands summed over the three ` +
    `masters (tests/redis_cluster_test.ts checks that they all run on the prefix's master).\n\n${
      table(
        ["sessions stored", "operation", "cluster: commands sent / run inside", "mean ms", "p50 ms"],
        clusterRows,
      )
    }\n`;
}

/** The workloads on a 3-master cluster, storage prefix `acme`: rows of commands and times. */
async function clusterSection(
  sizes: number[],
  iterations: number,
  memory: JsonObject,
): Promise<(string | number)[][]> {
  await using cluster = await startRedisCluster();
  await using storage = new RedisStorage({ url: `${cluster.urls[0]}?cluster=true`, prefix: "acme" });
  const ports = cluster.nodes.map((node) => node.port);
  const rows: (string | number)[][] = [];
  let have = 0;
  for (const size of sizes) {
    await fill(storage, have, size, memory);
    have = size;
    const cursor = (await storage.listSessions({ userId: "u3", limit: 20 })).nextCursor!;
    for (const [name, work] of workloads(size, cursor, memory)) {
      await work(storage, 0);
      const { sent, inside } = await countCommands(ports, () => work(storage, 1));
      const m = await measure(name, (i) => work(storage, i), iterations, 5);
      rows.push([size.toLocaleString("en-US"), name, `${sent} / ${inside}`, m.meanMs, m.p50Ms]);
    }
  }
  return rows;
}
