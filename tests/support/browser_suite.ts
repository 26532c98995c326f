/**
 * The conformance suite as a browser bundle: `runSuite()` runs every case
 * against real IndexedDB.
 */
import { IndexedDbStorage } from "../../backends/indexeddb.ts";
import { conformanceCases } from "../conformance/mod.ts";

const collected = conformanceCases({
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

/** Milliseconds per call of `work`, the median of `rounds` calls. */
async function median(rounds: number, work: (i: number) => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await work(i);
    times.push(performance.now() - started);
  }
  return Number(times.sort((a, b) => a - b)[Math.floor(rounds / 2)]!.toFixed(2));
}

/** Times list pages (20 sessions) in a store of `count` sessions of 10 users; resolves with milliseconds. */
async function timeListPage(count: number): Promise<Record<string, number>> {
  const storage = new IndexedDbStorage({ dbName: `scale-${count}` });
  await storage.drop();
  let started = performance.now();
  for (let start = 0; start < count; start += 1000) {
    await storage.importSessions(
      Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
        session: {
          sessionId: `s${start + i}`,
          userId: `u${(start + i) % 10}`,
          sessionName: `name ${(start + i) % 100}`,
          agentId: `a${(start + i) % 3}`,
          createdAt: start + i,
          updatedAt: start + i,
          version: 1,
          memory: { i: start + i, text: "x".repeat(200) },
        },
        runs: [],
      })) as never,
    );
  }
  const importMs = Math.round(performance.now() - started);
  const page = { limit: 20 };
  const tenth = await (async () => {
    let cursor: string | null = null;
    for (let i = 0; i < 9; i++) cursor = (await storage.listSessions({ ...page, cursor })).nextCursor;
    return cursor;
  })();
  const result = {
    count,
    importMs,
    firstPage: await median(21, () => storage.listSessions(page)),
    tenthPage: await median(21, () => storage.listSessions({ ...page, cursor: tenth })),
    byUser: await median(21, (i) => storage.listSessions({ ...page, userId: `u${i % 10}` })),
    byUserSortedByUpdate: await median(
      21,
      (i) => storage.listSessions({ ...page, userId: `u${i % 10}`, sortBy: "updatedAt" }),
    ),
    byName: await median(21, (i) => storage.listSessions({ ...page, sessionName: `name ${i % 100}` })),
    byEntityAndTime: await median(
      21,
      (i) => storage.listSessions({ ...page, entityId: `a${i % 3}`, createdBefore: 5000 }),
    ),
    recent: await median(21, () => storage.getRecentSessions()),
  };
  started = performance.now();
  const ids = await storage.getAllSessionIds();
  Object.assign(result, { allIds: Math.round(performance.now() - started), allIdsCount: ids.length });
  await storage.drop();
  await storage.close();
  return result;
}

Object.assign(globalThis, { runSuite, timeListPage, caseCount: collected.length });
