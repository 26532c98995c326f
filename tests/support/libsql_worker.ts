/** Subprocess for the libSQL crash test: rewrites 100 sessions in one upsertMany, forever, until killed. */
import { LibsqlStorage } from "../../backends/libsql.ts";

const storage = new LibsqlStorage({ url: `file:${Deno.args[0]}` });
const ids = Array.from({ length: 100 }, (_, i) => `b${i}`);
console.log("ready");
for (let round = 1;; round++) {
  await storage.upsertMany(ids.map((sessionId) => ({ sessionId, memory: { round, pad: "x".repeat(5000) } })));
}
