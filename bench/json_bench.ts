/** JsonStorage against unstorage's fs driver (set/get/getKeys) on the same sessions, same run. */
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import { JsonStorage } from "../backends/json.ts";
import { measure, type Measurement, payload, table } from "./harness.ts";
import type { SectionOptions } from "./libsql_bench.ts";

/** Runs the JSON directory workloads and returns a Markdown section. */
export async function jsonSection({ smoke, dir }: SectionOptions): Promise<string> {
  const stored = smoke ? 200 : 10_000;
  const iterations = smoke ? 30 : 500;
  const ours = new JsonStorage({ dir: `${dir}/ours` });
  const theirs = createStorage({ driver: fsDriver({ base: `${dir}/unstorage` }) });
  const small = payload(2, 3);
  let started = performance.now();
  for (let i = 0; i < stored; i += 500) {
    await ours.importSessions(
      Array.from({ length: Math.min(500, stored - i) }, (_, k) => ({
        session: {
          sessionId: `seed-${i + k}`,
          userId: `user-${(i + k) % 50}`,
          createdAt: i + k,
          updatedAt: i + k,
          version: 1,
          memory: small,
        },
        runs: [],
      })) as never,
    );
  }
  const oursSeed = performance.now() - started;
  started = performance.now();
  for (let i = 0; i < stored; i++) {
    await theirs.setItem(`seed-${i}`, {
      sessionId: `seed-${i}`,
      userId: `user-${i % 50}`,
      createdAt: i,
      memory: small,
    });
  }
  const theirsSeed = performance.now() - started;
  const rows: [Measurement, Measurement][] = [];
  const pair = async (
    name: string,
    a: (i: number) => Promise<unknown>,
    b: (i: number) => Promise<unknown>,
    n = iterations,
  ) => {
    rows.push([await measure(name, a, n, 3), await measure(name, b, n, 3)]);
  };
  await pair(
    "upsert (2 KB)",
    (i) => ours.upsert({ sessionId: `new-${i}`, userId: "u", memory: small }),
    (i) => theirs.setItem(`new-${i}`, { sessionId: `new-${i}`, userId: "u", memory: small }),
  );
  await pair(
    "read (2 KB)",
    (i) => ours.read(`seed-${Math.abs(i) % stored}`),
    (i) => theirs.getItem(`seed-${Math.abs(i) % stored}`),
  );
  // The closest unstorage gets to "a page of this user's newest": list every key, read every item, filter, sort.
  const listIterations = smoke ? 3 : 10;
  await pair(
    "list page of 20 (by user, newest first)",
    () => ours.listSessions({ userId: "user-3", limit: 20 }),
    async () => {
      const keys = (await theirs.getKeys()).filter((k) => k.startsWith("seed-"));
      const items = await Promise.all(keys.map((k) => theirs.getItem<{ userId: string; createdAt: number }>(k)));
      return items.filter((s) => s?.userId === "user-3").sort((a, b) => b!.createdAt - a!.createdAt).slice(0, 20);
    },
    listIterations,
  );
  // Another writer (a second storage on the same directory, as another process would be) changes one session
  // before each page, so every listing re-stats the directory's files.
  const other = new JsonStorage({ dir: `${dir}/ours` });
  await pair("list page after another writer changed a file", async (i) => {
    await other.upsert({
      sessionId: `seed-${Math.abs(i) % stored}`,
      userId: `user-${Math.abs(i) % stored % 50}`,
      memory: small,
    });
    return await ours.listSessions({ userId: "user-3", limit: 20 });
  }, async (i) => {
    await theirs.setItem(`seed-${Math.abs(i) % stored}`, { sessionId: `seed-${i}`, memory: small });
    const keys = (await theirs.getKeys()).filter((k) => k.startsWith("seed-"));
    const items = await Promise.all(keys.map((k) => theirs.getItem<{ userId: string; createdAt: number }>(k)));
    return items.filter((s) => s?.userId === "user-3").sort((a, b) => b!.createdAt - a!.createdAt).slice(0, 20);
  }, listIterations);
  await pair("all session ids", () => ours.getAllSessionIds(), () => theirs.getKeys(), listIterations);
  const body = table(
    ["workload", "JsonStorage ms", "unstorage fs ms", "ratio (ours / unstorage time)"],
    rows.map(([a, b]) => [a.name, a.meanMs, b.meanMs, `${(a.meanMs / b.meanMs).toFixed(2)}×`]),
  );
  return `## JSON directory: JsonStorage vs unstorage's fs driver\n\n${
    stored.toLocaleString("en-US")
  } sessions of ~2 KB ` +
    `(seeding: ours ${Math.round(oursSeed)} ms with importSessions batches, unstorage ${
      Math.round(theirsSeed)
    } ms one by one). ` +
    `Ours pays for what unstorage does not do: an fsync and an atomic rename per write, a per-session OS lock and a ` +
    `version check; a list page walks an in-memory sorted index and reads only the page's files (after another ` +
    `writer's change it re-reads only the files named in the change log), where unstorage has to read every file.\n\n${body}\n`;
}
