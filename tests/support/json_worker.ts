/**
 * Subprocess for the JSON backend's multi-process and crash tests.
 *
 *   increment <dir> <cycles>   read-increment-write with expectedVersion, retrying on conflict
 *   churn <dir>                rewrite big sessions and batches forever (killed by the test)
 *   hold <dir>                 take every agent-mode session lock, print "locked", wait (killed by the test)
 *   batch <dir> <n>            upsertMany of sessions b0..b<n-1>, all with the same counter, forever (killed)
 *   import <dir>               overwrite-import session "imp" from two backups in turn, forever (killed)
 *   mix <dir> <ms> <prefix>    for <ms>: delete and re-create (at version 1) or update <prefix>0..9; prints the count
 */
import { JsonStorage } from "../../backends/json.ts";
import { ConflictError } from "../../session/errors.ts";

const [command, dir, arg] = Deno.args;
const storage = new JsonStorage({ dir: dir! });

if (command === "increment") {
  let writes = 0;
  let conflicts = 0;
  for (let i = 0; i < Number(arg); i++) {
    for (;;) {
      const session = await storage.read("counter");
      const count = (session?.memory?.count as number | undefined) ?? 0;
      try {
        await storage.upsert({ sessionId: "counter", memory: { count: count + 1 } }, {
          expectedVersion: session?.version ?? 0,
        });
        writes++;
        break;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        conflicts++;
      }
    }
  }
  console.log(JSON.stringify({ writes, conflicts }));
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
  const locks: Deno.FsFile[] = [];
  for (let stripe = 0; stripe < 64; stripe++) {
    const file = await Deno.open(`${dir}/agent/.locks/${stripe}.lock`, { create: true, write: true, mode: 0o600 });
    await file.lock(true);
    locks.push(file);
  }
  console.log("locked");
  setInterval(() => {}, 60_000);
} else if (command === "batch") {
  const n = Number(Deno.args[2]);
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
  const prefix = Deno.args[3]!;
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
} else {
  throw new Error(`unknown command ${command}`);
}
