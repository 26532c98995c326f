/**
 * The read-increment-write cycle the multi-process tests run in each
 * process: read session "counter", write its count + 1 at the version read,
 * and on a ConflictError read again.
 *
 * @module
 */
import type { SessionStorage } from "../../session/types.ts";
import { ConflictError } from "../../session/errors.ts";

/** Runs `cycles` increments of session "counter"; how many writes landed and how many conflicts were retried. */
export async function incrementCounter(
  storage: Pick<SessionStorage, "read" | "upsert">,
  cycles: number,
): Promise<{ writes: number; conflicts: number }> {
  let writes = 0;
  let conflicts = 0;
  for (let i = 0; i < cycles; i++) {
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
  return { writes, conflicts };
}
