/**
 * What a JSON directory must look like after the json worker's `churn`
 * command (big sessions, batches and runs rewritten in a loop) was killed:
 * shared by the crash tests of every runtime.
 *
 * @module
 */
import assert from "node:assert/strict";
import { JsonStorage } from "../../backends/json.ts";

/** Every churned session reads whole, a batch landed whole, no torn run is returned, and writing goes on. */
export async function assertSurvivedChurn(dir: string): Promise<void> {
  await using storage = new JsonStorage({ dir });
  const big = await storage.read("big");
  assert.ok(big === null || typeof big.memory?.i === "number");
  const [b1, b2] = [await storage.read("b1"), await storage.read("b2")];
  if (b1 && b2) assert.equal(b1.memory?.i, b2.memory?.i, "a batch lands whole");
  const runs = await storage.getRuns("big", { limit: 1000 });
  assert.deepEqual(runs.runs.map((r) => r.seq), runs.runs.map((_, i) => i + 1), "no torn run is returned");
  await storage.listSessions();
  // The killed writer may have held locks: they are released with it, so writing goes on.
  const after = await storage.upsert({ sessionId: "big", memory: { i: -1 } });
  assert.equal(after.version, (big?.version ?? 0) + 1);
  await storage.upsertMany([{ sessionId: "b1" }, { sessionId: "b2" }]);
}
