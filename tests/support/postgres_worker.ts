/**
 * Subprocess for the PostgreSQL multi-process test:
 *
 *   increment <url> <schema> <cycles>   read-increment-write of session "counter" with expectedVersion,
 *                                       retrying on conflict; prints `{ "writes": n, "conflicts": n }`
 */
import { PostgresStorage } from "../../backends/postgres.ts";
import { ConflictError } from "../../session/errors.ts";

const [command, url, schema, cycles] = Deno.args;
if (command !== "increment") throw new Error(`unknown command ${command}`);
await using storage = new PostgresStorage({ url: url!, schema: schema!, poolSize: 1 });
let writes = 0;
let conflicts = 0;
for (let i = 0; i < Number(cycles); i++) {
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
