/**
 * Subprocess for the JSON backend's multi-process and crash tests; runs on
 * Deno as it is, and on Node.js or Bun bundled (tests/support/json_spawn.ts).
 *
 *   increment <dir> <cycles>   read-increment-write with expectedVersion, retrying on conflict
 *   churn <dir>                rewrite big sessions and batches forever (killed by the test)
 *   hold <dir>                 take every agent-mode session lock, print "locked", wait (killed by the test)
 *   batch <dir> <n>            upsertMany of sessions b0..b<n-1>, all with the same counter, forever (killed)
 *   import <dir>               overwrite-import session "imp" from two backups in turn, forever (killed)
 *   mix <dir> <ms> <prefix>    for <ms>: delete and re-create (at version 1) or update <prefix>0..9; prints the count
 *   lockcost <dir> <n>         times <n> uncontended exclusive and shared lock acquisitions; prints µs per acquisition
 */
import { JsonStorage } from "../../backends/json.ts";
import { FileLock } from "../../backends/json/lockfile.ts";
import { DirLocks } from "../../backends/json/locks.ts";
import { incrementCounter } from "./increment.ts";

const [command, dir, arg, extra] = process.argv.slice(2);
const storage = new JsonStorage({ dir: dir! });

if (command === "increment") {
  console.log(JSON.stringify(await incrementCounter(storage, Number(arg))));
} else if (command === "churn") {
  const big = "x".repeat(2_000_000);
  console.log("ready");
  for (let i = 0;; i++) {
    await storage.upsert({ sessionId: "big", memory: { i, big } });
    await storage.upsertMany([{ sessionId: "b1", memory: { i } }, { sessionId: "b2", memory: { i, big } }]);
    await storage.appendRuns("big", [{ i, big: big.slice(0, 100_000) }]);
  }
} else if (command === "hold") {
  await storage.create();
  await new DirLocks(`${dir}/agent`).allStripes(true, () => {
    console.log("locked");
    return new Promise<never>(() => setInterval(() => {}, 60_000));
  });
} else if (command === "batch") {
  const n = Number(arg);
  const pad = "p".repeat(2000);
  console.log("ready");
  for (let i = 0;; i++) {
    await storage.upsertMany(Array.from({ length: n }, (_, k) => ({ sessionId: `b${k}`, memory: { i, pad } })));
  }
} else if (command === "import") {
  const backup = (tag: string, runs: number) => ({
    session: {
      sessionId: "imp",
      userId: null,
      sessionName: tag,
      agentId: null,
      teamSessionId: null,
      memory: { tag, pad: "p".repeat(200_000) },
      sessionData: null,
      extraData: null,
      agentData: null,
      createdAt: 1,
      updatedAt: 2,
      version: runs,
    },
    runs: Array.from({ length: runs }, (_, k) => ({ seq: k + 1, createdAt: 3, run: { tag, pad: "r".repeat(50_000) } })),
  });
  console.log("ready");
  for (let i = 0;; i++) {
    await storage.importSessions([i % 2 === 0 ? backup("A", 3) : backup("B", 5)], { onConflict: "overwrite" });
  }
} else if (command === "mix") {
  const until = Date.now() + Number(arg);
  const prefix = extra!;
  let ops = 0;
  for (let i = 0; Date.now() < until; i++) {
    const id = `${prefix}${i % 10}`;
    if (i % 2 === 0) {
      await storage.deleteSession(id);
      await storage.upsert({ sessionId: id, memory: { i } });
      ops += 2;
    } else {
      await storage.upsert({ sessionId: id, memory: { i } });
      ops++;
    }
  }
  console.log(JSON.stringify({ ops }));
} else if (command === "lockcost") {
  const lock = new FileLock(`${dir}/cost`);
  const micros = async (exclusive: boolean) => {
    const start = performance.now();
    for (let i = 0; i < Number(arg); i++) await (await lock.acquire(exclusive))();
    return Math.round((performance.now() - start) * 1000 / Number(arg));
  };
  await micros(true); // warm up
  console.log(JSON.stringify({ exclusiveUs: await micros(true), sharedUs: await micros(false) }));
} else {
  throw new Error(`unknown command ${command}`);
}
