/**
 * Subprocess for libSQL tests, by its first argument:
 * - `write <path>`: rewrites 100 sessions in one upsertMany, forever, until killed (crash test);
 * - `read <path> <call>…`: runs each call (`read:<id>`, `list`, `runs:<id>`) on the file and prints one
 *   JSON line per call, `{ "ok": … }` or `{ "error": name, "message": … }`, so a native abort fails the
 *   test (exit status) instead of killing the test runner.
 */
import { LibsqlStorage } from "../../backends/libsql.ts";

const [command, path, ...calls] = Deno.args;
const storage = new LibsqlStorage({ url: `file:${path}` });
if (command === "write") {
  const ids = Array.from({ length: 100 }, (_, i) => `b${i}`);
  console.log("ready");
  for (let round = 1;; round++) {
    await storage.upsertMany(ids.map((sessionId) => ({ sessionId, memory: { round, pad: "x".repeat(5000) } })));
  }
} else if (command === "read") {
  for (const call of calls) {
    const [name, id] = call.split(":") as [string, string];
    try {
      const result = name === "read"
        ? await storage.read(id)
        : name === "runs"
        ? await storage.getRuns(id)
        : await storage.listSessions();
      console.log(JSON.stringify({ call, ok: result }));
    } catch (error) {
      console.log(JSON.stringify({ call, error: (error as Error).name, message: (error as Error).message }));
    }
  }
  await storage.close();
} else {
  throw new Error(`unknown command ${command}`);
}
