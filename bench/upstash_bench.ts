/** UpstashRedisStorage through the REST bridge: requests per operation and time at several store sizes. */
import { UpstashStore } from "@mastra/upstash";
import { UpstashRedisStorage } from "../backends/upstash.ts";
import { startRedisServer, startUpstashBridge } from "../tests/support/upstash_bridge.ts";
import { mastraThread, measure, payload, table } from "./harness.ts";
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
    const mastraStore = new UpstashStore({ id: "bench", url: bridge.url, token: bridge.token });
    await mastraStore.init();
    const mastra = (await mastraStore.getStore("memory"))!;
    const small = payload(2, 4);
    const thread = (id: string, resourceId: string) => mastraThread(id, resourceId, small);
    let have = 0;
    for (const size of sizes) {
      for (let i = have; i < size; i++) await mastra.saveThread({ thread: thread(`s${i}`, `u${i % 4}`) });
      for (; have < size; have += 500) {
        await storage.upsertMany(
          Array.from(
            { length: Math.min(500, size - have) },
            (_, i) => ({ sessionId: `s${have + i}`, userId: `u${(have + i) % 4}`, memory: small }),
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
              userId: `u${(Math.abs(i) % size) % 4}`,
              memory: small,
            }),
        ],
        ["list page of 20 (by user: a quarter of the store)", () => storage.listSessions({ userId: "u3", limit: 20 })],
        ["getRecentSessions", () => storage.getRecentSessions()],
      ];
      const theirs: Record<string, (i: number) => Promise<unknown>> = {
        read: (i) => mastra.getThreadById({ threadId: `s${Math.abs(i) % size}` }),
        upsert: (i) => mastra.saveThread({ thread: thread(`s${Math.abs(i) % size}`, `u${(Math.abs(i) % size) % 4}`) }),
        "list page of 20 (by user: a quarter of the store)": () =>
          mastra.listThreads({
            filter: { resourceId: "u3" },
            perPage: 20,
            page: 0,
            orderBy: { field: "createdAt", direction: "DESC" },
          }),
      };
      for (const [name, work] of workloads) {
        const cost = async (fn: (i: number) => Promise<unknown>, n: number) => {
          await fn(0);
          bridge.resetCounts();
          await fn(1);
          const [requests, commands] = [bridge.requests, bridge.commands];
          return { requests, commands, m: await measure(name, fn, n, 5) };
        };
        const ours = await cost(work, iterations);
        const other = theirs[name];
        const mastraCost = other
          ? await cost(other, name.startsWith("list") ? Math.max(5, iterations / 20) : iterations)
          : null;
        rows.push([
          size.toLocaleString("en-US"),
          name,
          `${ours.requests} / ${ours.commands}`,
          ours.m.meanMs,
          mastraCost ? `${mastraCost.requests} / ${mastraCost.commands}` : "—",
          mastraCost ? mastraCost.m.meanMs : "—",
        ]);
      }
    }
  } finally {
    await bridge.stop();
    await server.stop();
  }
  return `## Upstash (REST) through the local bridge to redis-server\n\nHTTP requests per operation are counted at the ` +
    `bridge; times include the bridge's HTTP handling on this machine (a real Upstash adds network latency per ` +
    `request, which is why the request count is the figure that matters). Target: read and upsert 1 request, a list ` +
    `page at most 2, at every store size. \`@mastra/upstash\` stores threads (its closest equivalent) in the same Redis ` +
    `through the same bridge; its listing scans keys and fetches every thread, so its command count grows with the store.\n\n${
      table(
        [
          "sessions stored",
          "operation",
          "ours: requests / redis commands",
          "ours ms",
          "@mastra/upstash: requests / commands",
          "mastra ms",
        ],
        rows,
      )
    }\n`;
}
