/**
 * A real LangGraph graph (tests/support/langgraph_graph.ts, no model) checkpointed on each persistent backend
 * (libSQL file, JSON files, Upstash through the REST bridge, Redis over TCP, PostgreSQL, each on a server started
 * here): interrupted in one process, resumed in a second one, then its history read and an older checkpoint resumed
 * with another answer (time travel) in this one.
 */
import assert from "node:assert/strict";
import { Command } from "@langchain/langgraph";
import { skipRedis } from "./support/backends.ts";
import { openGraph } from "./support/langgraph_graph.ts";
import { skipWithoutPostgres, startPostgresServer } from "./support/postgres_server.ts";
import { tempDir } from "./support/temp.ts";
import { startRedisServer, startUpstashBridge } from "./support/upstash_bridge.ts";

const script = new URL("./support/langgraph_graph.ts", import.meta.url).pathname;

/** Runs the graph script in its own Deno process; the state it printed last. */
async function inProcess(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ values: Record<string, unknown>; next: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", new URL("../deno.dev.json", import.meta.url).pathname, script, ...args],
    env,
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder();
  assert.equal(out.code, 0, text.decode(out.stderr));
  return JSON.parse(text.decode(out.stdout).trim().split("\n").at(-1)!);
}

/** The whole scenario on the storage `url` names (`token` for Upstash). */
async function scenario(url: string, token?: string): Promise<void> {
  const env: Record<string, string> = token === undefined ? {} : { UPSTASH_REDIS_REST_TOKEN: token };
  const thread = "order-42";
  const stopped = await inProcess(env, "start", url, thread);
  assert.deepEqual(stopped, {
    values: { request: "order 42", plan: "plan for order 42", log: ["planned"] },
    next: ["approve"],
  });
  const done = await inProcess(env, "resume", url, thread, "yes");
  assert.deepEqual(done.next, []);
  assert.equal(done.values.outcome, "shipped");
  assert.deepEqual(done.values.log, ["planned", "answer yes", "done"]);

  const { graph, storage } = await openGraph(url, token);
  try {
    const config = { configurable: { thread_id: thread } };
    const history = [];
    for await (const snapshot of graph.getStateHistory(config)) history.push(snapshot);
    // input, planner, approve (interrupted, then resumed), ship: newest first.
    assert.deepEqual(history.map((s) => s.next), [[], ["ship"], ["approve"], ["planner"], ["__start__"]]);
    assert.equal(history[0]!.values.outcome, "shipped");
    const paused = history[2]!;
    assert.deepEqual(paused.tasks.map((t) => t.interrupts.map((i) => i.value)), [[{ question: "ship it?" }]]);

    // Resuming the paused checkpoint again reuses the answer its task already wrote (as with MemorySaver).
    await graph.invoke(new Command({ resume: "no" }), paused.config);
    assert.equal((await graph.getState(config)).values.outcome, "shipped");
    // Time travel: replay from the checkpoint before `planner`, answer otherwise: a fork; the first branch stays.
    const forkPoint = history[3]!;
    const replayed = await graph.invoke(null, forkPoint.config);
    assert.deepEqual(replayed.log, ["planned"]);
    await graph.invoke(new Command({ resume: "no" }), config);
    const latest = await graph.getState(config);
    assert.equal(latest.values.outcome, "held");
    assert.deepEqual(latest.values.log, ["planned", "answer no", "done"]);
    const after = [];
    for await (const snapshot of graph.getStateHistory(config)) after.push(snapshot);
    // LangGraph forks from the replayed checkpoint: a "fork" checkpoint whose parent it is, then the new steps.
    assert.deepEqual(after.slice(0, 4).map((s) => s.next), [[], ["ship"], ["approve"], ["planner"]]);
    assert.equal(after[3]!.metadata?.source, "fork");
    assert.equal(after[3]!.parentConfig?.configurable?.checkpoint_id, forkPoint.config.configurable?.checkpoint_id);
    const original = await graph.getState(history[0]!.config);
    assert.equal(original.values.outcome, "shipped");
  } finally {
    await storage.close();
  }
}

const name = (backend: string) =>
  `LangGraph graph on ${backend}: interrupt in one process, resume in another, history and time travel`;

Deno.test(name("a libSQL file"), async () => {
  const dir = await tempDir("langgraph-graph-libsql");
  try {
    await scenario(`file:${dir.path}/graph.db`);
  } finally {
    await dir.remove();
  }
});

Deno.test(name("JSON files"), async () => {
  const dir = await tempDir("langgraph-graph-json");
  try {
    await scenario(`json:${dir.path}`);
  } finally {
    await dir.remove();
  }
});

const noRedis = await skipRedis();

Deno.test({ name: name("Upstash (REST bridge)"), ignore: noRedis }, async () => {
  const server = await startRedisServer();
  const bridge = await startUpstashBridge({ redisPort: server.port });
  try {
    await scenario(`upstash+${bridge.url}`, bridge.token);
  } finally {
    await bridge.stop();
    await server.stop();
  }
});

Deno.test({ name: name("Redis (TCP)"), ignore: noRedis }, async () => {
  const server = await startRedisServer();
  try {
    await scenario(`redis://127.0.0.1:${server.port}`);
  } finally {
    await server.stop();
  }
});

Deno.test({ name: name("PostgreSQL"), ignore: await skipWithoutPostgres("the LangGraph graph test") }, async () => {
  await using server = await startPostgresServer();
  await scenario(server.url);
});
