/**
 * RedisStorage over TCP beside the Upstash REST path on the same keys: time
 * per operation and Redis commands per operation (`INFO commandstats`) at
 * 100, 10 000 and 100 000 sessions.
 */
import { RedisStorage } from "../backends/redis.ts";
import { UpstashRedisStorage } from "../backends/upstash.ts";
import { RespConnection, startRedisServer, startUpstashBridge } from "../tests/support/upstash_bridge.ts";
import { measure, payload, table } from "./harness.ts";
import type { SectionOptions } from "./libsql_bench.ts";

/** Commands Redis ran since `CONFIG RESETSTAT` (scripts' own commands included), without the counting's. */
async function commandCounts(admin: RespConnection): Promise<{ client: number; inside: number }> {
  const info = new TextDecoder().decode(await admin.send(["INFO", "commandstats"]) as Uint8Array);
  let client = 0;
  let inside = 0;
  for (const [, name, calls] of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
    if (/^(info|config\|resetstat)$/.test(name!)) continue;
    if (/^(evalsha|eval|script\|load)$/.test(name!)) client += Number(calls);
    else inside += Number(calls);
  }
  return { client, inside };
}

/** Runs the Redis (TCP) workloads and returns a Markdown section. */
export async function redisSection({ smoke }: SectionOptions): Promise<string> {
  const sizes = smoke ? [100] : [100, 10_000, 100_000];
  const iterations = smoke ? 20 : 300;
  const server = await startRedisServer();
  const bridge = await startUpstashBridge({ redisPort: server.port });
  const admin = await RespConnection.connect(server.port);
  const rows: (string | number)[][] = [];
  try {
    await using tcp = new RedisStorage({ url: `redis://127.0.0.1:${server.port}`, prefix: "bench" });
    await using rest = new UpstashRedisStorage({ url: bridge.url, token: bridge.token, retries: 0, prefix: "bench" });
    const small = payload(2, 4);
    let have = 0;
    let turns = 0;
    for (const size of sizes) {
      for (; have < size; have += 500) {
        await tcp.upsertMany(
          Array.from(
            { length: Math.min(500, size - have) },
            (_, i) => ({ sessionId: `s${have + i}`, userId: `u${(have + i) % 4}`, memory: small }),
          ),
        );
      }
      const cursor = (await tcp.listSessions({ userId: "u3", limit: 20 })).nextCursor!;
      const workloads: [string, (s: RedisStorage | UpstashRedisStorage, i: number) => Promise<unknown>][] = [
        ["read", (s, i) => s.read(`s${Math.abs(i) % size}`)],
        [
          "upsert",
          (s, i) =>
            s.upsert({ sessionId: `s${Math.abs(i) % size}`, userId: `u${Math.abs(i) % size % 4}`, memory: small }),
        ],
        ["list page of 20 (newest first)", (s) => s.listSessions({ limit: 20 })],
        ["list page of 20 by user (a quarter)", (s) => s.listSessions({ userId: "u3", limit: 20 })],
        ["next page by user (cursor)", (s) => s.listSessions({ userId: "u3", limit: 20, cursor })],
        [
          "chat turn (2 keyed runs)",
          (s) => {
            const n = turns++; // fresh keys: a repeated key would be a replay, which writes nothing
            return s.appendRuns("turns", [{ q: n }, { a: n }], { keys: [`q${n}`, `a${n}`], create: true });
          },
        ],
      ];
      for (const [name, work] of workloads) {
        await work(tcp, 0); // loads the script
        await admin.send(["CONFIG", "RESETSTAT"]);
        await work(tcp, 1);
        const { client, inside } = await commandCounts(admin);
        const ours = await measure(name, (i) => work(tcp, i), iterations, 5);
        await work(rest, 2);
        bridge.resetCounts();
        await work(rest, 3);
        const requests = bridge.requests;
        const overRest = await measure(name, (i) => work(rest, i + 1_000_000), iterations, 5);
        rows.push([
          size.toLocaleString("en-US"),
          name,
          `${client} / ${inside}`,
          ours.meanMs,
          ours.p50Ms,
          requests,
          overRest.meanMs,
        ]);
      }
    }
  } finally {
    await admin.close();
    await bridge.stop();
    await server.stop();
  }
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
    }\n`;
}
