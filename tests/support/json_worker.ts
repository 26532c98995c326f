/**
 * Subprocess for the JSON backend's multi-process and crash tests.
 *
 *   increment <dir> <cycles>   read-increment-write with expectedVersion, retrying on conflict
 *   churn <dir>                rewrite big sessions and batches forever (killed by the test)
 *   hold <dir>                 take every agent-mode session lock, print "locked", wait (killed by the test)
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
} else {
  throw new Error(`unknown command ${command}`);
}
