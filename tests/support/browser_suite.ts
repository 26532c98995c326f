/**
 * The conformance suite as a browser bundle: `Deno.test` is replaced by a
 * collector, and `runSuite()` runs every case against real IndexedDB.
 */
import { IndexedDbStorage } from "../../backends/indexeddb.ts";
import { runConformance } from "../conformance.ts";

interface Collected {
  name: string;
  fn: () => Promise<void>;
}

const collected: Collected[] = [];
(globalThis as unknown as { Deno: unknown }).Deno = { test: (def: Collected) => collected.push(def) };

runConformance({
  name: "chromium indexeddb",
  create: (options, place) => Promise.resolve(new IndexedDbStorage({ ...options, dbName: `conformance-${place}` })),
});

/** Runs every collected case; resolves with one result per case. */
async function runSuite(): Promise<{ name: string; ok: boolean; error?: string }[]> {
  const results = [];
  for (const test of collected) {
    try {
      await test.fn();
      results.push({ name: test.name, ok: true });
    } catch (error) {
      results.push({ name: test.name, ok: false, error: String((error as Error)?.stack ?? error) });
    }
  }
  return results;
}

/** Times a list page at `count` sessions; resolves with milliseconds per page. */
async function timeListPage(count: number): Promise<{ count: number; msPerPage: number; msPerRecent: number }> {
  const storage = new IndexedDbStorage({ dbName: `scale-${count}` });
  for (let start = 0; start < count; start += 1000) {
    await storage.importSessions(
      Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
        session: {
          sessionId: `s${start + i}`,
          userId: `u${(start + i) % 10}`,
          createdAt: start + i,
          updatedAt: start + i,
          version: 1,
          memory: { i: start + i },
        },
        runs: [],
      })) as never,
    );
  }
  const rounds = 20;
  let started = performance.now();
  for (let i = 0; i < rounds; i++) await storage.listSessions({ userId: `u${i % 10}`, limit: 20 });
  const msPerPage = (performance.now() - started) / rounds;
  started = performance.now();
  for (let i = 0; i < rounds; i++) await storage.getRecentSessions();
  const msPerRecent = (performance.now() - started) / rounds;
  await storage.drop();
  await storage.close();
  return { count, msPerPage, msPerRecent };
}

Object.assign(globalThis, { runSuite, timeListPage, caseCount: collected.length });
