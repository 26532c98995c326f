/** List page and getRecentSessions cost as the store grows, on libSQL, IndexedDB (fake-indexeddb) and memory. */
import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { IndexedDbStorage } from "../backends/indexeddb.ts";
import { LibsqlStorage } from "../backends/libsql.ts";
import { MemoryStorage } from "../backends/memory.ts";
import type { SessionStorage } from "../session/types.ts";
import { measure, table } from "./harness.ts";
import type { SectionOptions } from "./libsql_bench.ts";

// deno-lint-ignore no-explicit-any
type Any = SessionStorage<any, any>;

async function fill(storage: Any, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 1000) {
    await storage.importSessions(
      Array.from({ length: Math.min(1000, to - i) }, (_, k) => ({
        session: {
          sessionId: `s${i + k}`,
          userId: `u${(i + k) % 20}`,
          createdAt: i + k,
          updatedAt: i + k,
          version: 1,
          memory: { i: i + k },
        },
        runs: [],
      })),
    );
  }
}

/** Runs the scaling workloads and returns a Markdown section. */
export async function scalingSection({ smoke, dir }: SectionOptions): Promise<string> {
  const sizes = smoke ? [1_000, 2_000] : [1_000, 10_000, 100_000];
  const backends: [string, Any][] = [
    ["libsql file", new LibsqlStorage({ url: `file:${dir}/scale.db` })],
    ["indexeddb (fake-indexeddb)", new IndexedDbStorage({ indexedDB: new IDBFactory(), dbName: "scale" })],
    ["memory (the model: no index)", new MemoryStorage()],
  ];
  const rows: (string | number)[][] = [];
  for (const [name, storage] of backends) {
    let have = 0;
    const times: number[] = [];
    for (const size of sizes) {
      await fill(storage, have, size);
      have = size;
      const page = await measure(
        "page",
        (i) => storage.listSessions({ userId: `u${Math.abs(i) % 20}`, limit: 20 }),
        smoke ? 10 : 300,
        20,
      );
      const recent = await measure("recent", () => storage.getRecentSessions({ limit: 20 }), smoke ? 10 : 300, 20);
      times.push(page.p50Ms);
      rows.push([
        name,
        size.toLocaleString("en-US"),
        page.p50Ms,
        recent.p50Ms,
        `${(page.p50Ms / times[0]!).toFixed(2)}×`,
      ]);
    }
    await storage.close();
  }
  return `## Scaling: a page costs the same at 1 000 and at 100 000 sessions\n\nA list page of 20 of one user's sessions ` +
    `(5 % of the store, so pages are full at every size) and the 20 newest sessions. Target: page time at the largest size within 2× of the smallest ` +
    `on every indexed backend. The memory backend is the reference model and sorts everything on purpose.\n\n${
      table([
        "backend",
        "sessions",
        "list page ms (median)",
        "getRecentSessions(20) ms (median)",
        "page time vs smallest",
      ], rows)
    }\n`;
}
