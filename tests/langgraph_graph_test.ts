/**
 * A real LangGraph graph (tests/support/langgraph_graph.ts, no model) checkpointed on JSON files: interrupted in one
 * process, resumed in a second one, then its history read and an older checkpoint resumed with another answer (time
 * travel) in this one.
 */
import assert from "node:assert/strict";
import { Command } from "@langchain/langgraph";
import { openGraph } from "./support/langgraph_graph.ts";
import { tempDir } from "./support/temp.ts";

const script = new URL("./support/langgraph_graph.ts", import.meta.url).pathname;

/** Runs the graph script in its own Deno process; the state it printed last. */
async function inProcess(...args: string[]): Promise<{ values: Record<string, unknown>; next: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", new URL("../deno.dev.json", import.meta.url).pathname, script, ...args],
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder();
  assert.equal(out.code, 0, text.decode(out.stderr));
  return JSON.parse(text.decode(out.stdout).trim().split("\n").at(-1)!);
}

Deno.test("LangGraph graph on JSON: interrupt in one process, resume in another, history and time travel", async () => {
  const dir = await tempDir("langgraph-graph");
  try {
    const thread = "order-42";
    const stopped = await inProcess("start", dir.path, thread);
    assert.deepEqual(stopped, {
      values: { request: "order 42", plan: "plan for order 42", log: ["planned"] },
      next: ["approve"],
    });
    const done = await inProcess("resume", dir.path, thread, "yes");
    assert.deepEqual(done.next, []);
    assert.equal(done.values.outcome, "shipped");
    assert.deepEqual(done.values.log, ["planned", "answer yes", "done"]);

    const { graph, storage } = openGraph(dir.path);
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
  } finally {
    await dir.remove();
  }
});
