import assert from "node:assert/strict";
import { MemoryStorage } from "../backends/memory.ts";
import { handle } from "../examples/edge_function.ts";
import { redisServerAvailable } from "./support/upstash_bridge.ts";
import { withRedis } from "./support/upstash_stack.ts";
import { startHranaServer } from "./support/hrana_server.ts";

const example = new URL("../examples/edge_function.ts", import.meta.url).pathname;
const haveRedis = await redisServerAvailable();

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Runs the example as its own process with `env`, and talks to it over HTTP like a client would. */
async function exercise(env: Record<string, string>): Promise<void> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", example],
    env: { ...env, PORT: String(port), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0;; i++) {
      try {
        await (await fetch(`${base}/sessions`)).body?.cancel();
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const chat = (message: string) =>
      fetch(`${base}/chat`, { method: "POST", body: JSON.stringify({ sessionId: "s1", userId: "ada", message }) })
        .then((r) => r.json());
    assert.deepEqual(await chat("hello"), { reply: 'turn 1: you said "hello"', turn: 1, version: 1 });
    assert.deepEqual(await chat("again"), { reply: 'turn 2: you said "again"', turn: 2, version: 2 });
    const list = await (await fetch(`${base}/sessions?userId=ada`)).json();
    assert.deepEqual(list.sessions.map((s: { sessionId: string }) => s.sessionId), ["s1"]);
    const stolen = await fetch(`${base}/chat`, {
      method: "POST",
      body: JSON.stringify({ sessionId: "s1", userId: "mallory", message: "mine now" }),
    });
    assert.equal(stolen.status, 403, "another user's append is refused (UserMismatchError)");
    await stolen.body?.cancel();
  } finally {
    child.kill();
    await child.output();
  }
}

Deno.test({
  name: "examples/edge_function.ts keeps a chat in Upstash (through the REST bridge)",
  ignore: !haveRedis && Deno.env.get("CI") !== "true",
  async fn() {
    await withRedis((_, bridge) =>
      exercise({ UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token })
    );
  },
});

Deno.test("examples/edge_function.ts keeps a chat in remote libSQL over HTTP", async () => {
  // A private database file, removed by stop().
  const server = await startHranaServer({ dbUrl: ":memory:", token: "t" });
  try {
    await exercise({ LIBSQL_URL: server.url, LIBSQL_AUTH_TOKEN: "t" });
  } finally {
    await server.stop();
  }
});

Deno.test("edge handler: 10 parallel turns on one chat get turns 1–10; bad bodies and unscoped listing are 400s", async () => {
  await using storage = new MemoryStorage();
  const post = (body: string) => handle(new Request("http://edge.test/chat", { method: "POST", body }), storage);
  const replies = await Promise.all(
    Array.from({ length: 10 }, (_, i) => post(JSON.stringify({ sessionId: "c", userId: "ada", message: `m${i}` }))),
  );
  const turns = await Promise.all(replies.map(async (r) => (await r.json()).turn as number));
  assert.deepEqual(turns.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal((await storage.getRuns("c", { userId: "ada" })).runs.length, 10);
  assert.equal((await post("not json")).status, 400);
  assert.equal((await post(JSON.stringify({ sessionId: "c", userId: "ada" }))).status, 400);
  const unscoped = await handle(new Request("http://edge.test/sessions"), storage);
  assert.equal(unscoped.status, 400);
  const other = await post(JSON.stringify({ sessionId: "c", userId: "bob", message: "hi" }));
  assert.equal(other.status, 403);
});
