/** UpstashRedisStorage through the REST bridge: requests per operation and time at several store sizes. */
import { UpstashRedisStorage } from "../backends/upstash.ts";
import { startRedisServer } from "../tests/support/resp.ts";
import { startUpstashBridge } from "../tests/support/upstash_bridge.ts";
import { measure, payload, table } from "./harness.ts";
import type { SectionOptions } from "./libsql_bench.ts";

/** Runs the Upstash workloads and returns a Markdown section. */
export async function upstashSection({ smoke }: SectionOptions): Promise<string> {
  const sizes = smoke ? [100] : [100, 1_000, 10_000];
  const iterations = smoke ? 20 : 300;
  const server = await startRedisServer();
  const bridge = await startUpstashBridge({ redisPort: server.port });
  const rows: (string | number)[][] = [];
  try {
    const storage = new UpstashRedisStorage({ url: bridge.url, token: bridge.token, retries: 0 });
    const small = payload(2, 4);
    let have = 0;
    for (const size of sizes) {
      for (; have < size; have += 500) {
        await storage.upsertMany(
          Array.from(
            { length: Math.min(500, size - have) },
            (_, i) => ({ sessionId: `s${have + i}`, userId: `u${(have + i) % 20}`, memory: small }),
          ),
        );
      }
      const workloads: [string, (i: number) => Promise<unknown>][] = [
        ["read", (i) => storage.read(`s${Math.abs(i) % size}`)],
        [
          "upsert",
          (i) =>
            storage.upsert({
              sessionId: `s${Math.abs(i) % size}`,
              userId: `u${(Math.abs(i) % size) % 20}`,
              memory: small,
            }),
        ],
        ["list page of 20 (by user)", () => storage.listSessions({ userId: "u3", limit: 20 })],
        ["getRecentSessions", () => storage.getRecentSessions()],
      ];
      for (const [name, work] of workloads) {
        await work(0);
        bridge.resetCounts();
        await work(1);
        const requests = bridge.requests;
        const m = await measure(name, work, iterations, 5);
        rows.push([size.toLocaleString("en-US"), name, requests, m.meanMs, m.opsPerSec]);
      }
    }
  } finally {
    await bridge.stop();
    await server.stop();
  }
  return `## Upstash (REST) through the local bridge to redis-server\n\nHTTP requests per operation are counted at the ` +
    `bridge; times include the bridge's HTTP handling on this machine (a real Upstash adds network latency per ` +
    `request, which is why the request count is the figure that matters). Target: read and upsert 1 request, a list ` +
    `page at most 2, at every store size.\n\n${
      table(["sessions stored", "operation", "HTTP requests", "mean ms", "ops/s"], rows)
    }\n`;
}
