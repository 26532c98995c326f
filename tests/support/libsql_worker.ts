/**
 * Subprocess for libSQL tests, by its first argument:
 * - `write <path>`: rewrites 100 sessions in one upsertMany, forever, until killed (crash test);
 * - `memory <path>`: prints `{ "upserts": bytes, "copy": bytes }`, the RSS growth (after a GC) over 10 000
 *   sequential upserts and over a 10 000-session copy (pages of 500 into importSessions), each after a warm-up;
 *   run it with `--v8-flags=--expose-gc`;
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
} else if (command === "memory") {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  const rss = () => {
    gc();
    return Deno.memoryUsage().rss;
  };
  const pad = "x".repeat(2000);
  const upserts = async (count: number) => {
    for (let i = 0; i < count; i++) await storage.upsert({ sessionId: `s${i % 1000}`, memory: { pad, i } });
  };
  const source = new LibsqlStorage({ url: `file:${path}-source` });
  for (let i = 0; i < 10_000; i += 500) {
    await source.upsertMany(Array.from({ length: 500 }, (_, j) => ({ sessionId: `c${i + j}`, memory: { pad } })));
  }
  const copy = async (count: number, table: string) => {
    await using target = new LibsqlStorage({ url: `file:${path}`, table });
    let page = await source.listSessions({ limit: 500, sortBy: "createdAt", order: "asc" });
    for (let copied = 0; copied < count;) {
      await target.importSessions(page.sessions.map((session) => ({ session, runs: [] })));
      copied += page.sessions.length;
      if (page.nextCursor === null) break;
      page = await source.listSessions({ limit: 500, sortBy: "createdAt", order: "asc", cursor: page.nextCursor });
    }
  };
  await upserts(3000);
  let before = rss();
  await upserts(10_000);
  const upsertGrowth = rss() - before;
  await copy(10_000, "warm_up");
  before = rss();
  await copy(10_000, "copied");
  const copyGrowth = rss() - before;
  await source.close();
  console.log(JSON.stringify({ upserts: upsertGrowth, copy: copyGrowth }));
} else {
  throw new Error(`unknown command ${command}`);
}
