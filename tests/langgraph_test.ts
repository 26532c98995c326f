/**
 * The LangGraph saver on MemoryStorage and JsonStorage: what the official suite (langgraph_validation_test.ts)
 * does not pin down: storage operations per call whatever the thread's length, the putWrites rules under
 * concurrency, listing across more threads than a page, deleteThread leaving other data alone, the stored layout
 * (base64 blobs inside JSON), corrupt runs, a JSON directory reopened.
 */
import assert from "node:assert/strict";
import { emptyCheckpoint, ERROR, uuid6 } from "@langchain/langgraph-checkpoint";
import type { Checkpoint, CheckpointMetadata, CheckpointTuple } from "@langchain/langgraph-checkpoint";
import type { RunnableConfig } from "@langchain/core/runnables";
import { AgentstateSaver, type LangGraphStorage } from "../adapters/langgraph.ts";
import { checkpointsSessionId, writesSessionId } from "../adapters/langgraph/layout.ts";
import { JsonStorage } from "../backends/json.ts";
import { MemoryStorage } from "../backends/memory.ts";
import { CorruptRecordError } from "../session/errors.ts";
import { tempDir } from "./support/temp.ts";

type Storage = LangGraphStorage & { close(): Promise<void> };

/** The backends: a new empty storage each, and its cleanup. */
const backends: { name: string; open(): Promise<{ storage: Storage; reopen(): Storage; done(): Promise<void> }> }[] = [
  {
    name: "memory",
    open() {
      const storage = new MemoryStorage({ mode: "workflow" });
      return Promise.resolve({ storage, reopen: () => storage, done: () => storage.close() });
    },
  },
  {
    name: "json",
    async open() {
      const dir = await tempDir("langgraph");
      const opened: Storage[] = [];
      const reopen = () => {
        const storage = new JsonStorage({ mode: "workflow", dir: dir.path });
        opened.push(storage);
        return storage;
      };
      const storage = reopen();
      return {
        storage,
        reopen,
        async done() {
          for (const s of opened) await s.close();
          await dir.remove();
        },
      };
    },
  },
];

/** The storage with every method call recorded (name and first argument's options), to count operations. */
function counted(storage: Storage): { storage: Storage; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(storage, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return value.apply(target, args);
      };
    },
  });
  return { storage: proxy, calls };
}

const META: CheckpointMetadata = { source: "loop", step: 0, parents: {} };

function checkpoint(values: Record<string, unknown> = {}, version = 1): Checkpoint {
  const c = emptyCheckpoint();
  c.id = uuid6(-1);
  c.channel_values = values;
  c.channel_versions = Object.fromEntries(Object.keys(values).map((k) => [k, version]));
  return c;
}

/** Puts `count` checkpoints in a chain on `thread`, each with one write; returns the configs. */
async function chain(saver: AgentstateSaver, thread: string, count: number, ns = ""): Promise<RunnableConfig[]> {
  const configs: RunnableConfig[] = [];
  let config: RunnableConfig = { configurable: { thread_id: thread, checkpoint_ns: ns } };
  for (let i = 0; i < count; i++) {
    config = await saver.put(config, checkpoint({ step: i }, i + 1), { ...META, step: i }, { step: i + 1 });
    await saver.putWrites(config, [["step", i + 1]], `task-${i}`);
    configs.push(config);
  }
  return configs;
}

async function collect(iterable: AsyncIterable<CheckpointTuple>): Promise<CheckpointTuple[]> {
  const out: CheckpointTuple[] = [];
  for await (const t of iterable) out.push(t);
  return out;
}

for (const backend of backends) {
  const test = (name: string, fn: (b: Awaited<ReturnType<typeof backend.open>>) => Promise<void>) =>
    Deno.test(`langgraph saver (${backend.name}): ${name}`, async () => {
      const opened = await backend.open();
      try {
        await fn(opened);
      } finally {
        await opened.done();
      }
    });

  test("getTuple, list and put cost the same number of operations at 5 and at 150 checkpoints", async ({ storage }) => {
    const { storage: spy, calls } = counted(storage);
    const saver = new AgentstateSaver({ storage: spy });
    const costs: Record<string, number>[] = [];
    for (const [thread, count] of [["short", 5], ["long", 150]] as const) {
      const configs = await chain(saver, thread, count);
      const cost = async (fn: () => Promise<unknown>) => {
        calls.length = 0;
        await fn();
        return calls.length;
      };
      const middle = configs[count - 2]!;
      costs.push({
        latest: await cost(() => saver.getTuple({ configurable: { thread_id: thread, checkpoint_ns: "" } })),
        byId: await cost(() => saver.getTuple(middle)),
        list3: await cost(() =>
          collect(saver.list({ configurable: { thread_id: thread, checkpoint_ns: "" } }, { limit: 3 }))
        ),
        before3: await cost(() =>
          collect(saver.list({ configurable: { thread_id: thread, checkpoint_ns: "" } }, { limit: 3, before: middle }))
        ),
        putChild: await cost(async () => {
          const parent = configs[count - 1]!;
          const c = checkpoint({ step: "next", other: 1 }, count + 1);
          await saver.put(parent, c, META, { other: count + 1 });
        }),
      });
    }
    // getTuple: the checkpoint run + its writes; list of 3: one page + 3 writes reads; before: + the keyed read of
    // `before`; put of a child whose parent this saver wrote: one append (its carried channels are remembered).
    const expected = { latest: 2, byId: 2, list3: 4, before3: 5, putChild: 1 };
    assert.deepEqual(costs, [expected, expected]);
  });

  test("a saver that never saw the parent reads it once to carry its channels over", async ({ storage }) => {
    const [parent] = await chain(new AgentstateSaver({ storage }), "carry", 1);
    const { storage: spy, calls } = counted(storage);
    const fresh = new AgentstateSaver({ storage: spy });
    const child = checkpoint({ step: 0, added: "x" });
    child.channel_versions = { step: 1, added: 2 };
    const config = await fresh.put(parent!, child, META, { added: 2 });
    assert.deepEqual(calls, ["getRun", "appendRuns"]);
    const tuple = await new AgentstateSaver({ storage }).getTuple(config);
    assert.deepEqual(tuple?.checkpoint.channel_values, { step: 0, added: "x" });
    // A channel whose version the parent does not hold is not carried over.
    const stale = checkpoint({ step: 5 });
    stale.channel_versions = { step: 7 };
    const staleConfig = await fresh.put(parent!, stale, META, {});
    assert.deepEqual((await fresh.getTuple(staleConfig))?.checkpoint.channel_values, {});
  });

  test("list pages: limit and before are served from the run log's end, newest first", async ({ storage }) => {
    const saver = new AgentstateSaver({ storage });
    const configs = await chain(saver, "t", 12);
    const ids = configs.map((c) => c.configurable!.checkpoint_id as string);
    const all = await collect(saver.list({ configurable: { thread_id: "t" } }));
    assert.deepEqual(all.map((t) => t.checkpoint.id), ids.toReversed());
    assert.deepEqual(all[0]!.pendingWrites, [["task-11", "step", 12]]);
    assert.deepEqual(all[0]!.checkpoint.channel_values, { step: 11 });
    const before = await collect(saver.list({ configurable: { thread_id: "t" } }, { before: configs[5], limit: 2 }));
    assert.deepEqual(before.map((t) => t.checkpoint.id), [ids[4], ids[3]]);
    // A `before` from another thread compares checkpoint ids, like LangGraph's own savers.
    const other = await chain(saver, "u", 1);
    const none = await collect(
      saver.list({ configurable: { thread_id: "t" } }, { before: { configurable: { checkpoint_id: ids[0] } } }),
    );
    assert.equal(none.length, 0);
    const older = await collect(saver.list({ configurable: { thread_id: "t" } }, { before: other[0] }));
    assert.equal(older.length, 12);
    const filtered = await collect(saver.list({ configurable: { thread_id: "t" } }, { filter: { step: 7 } }));
    assert.deepEqual(filtered.map((t) => t.checkpoint.id), [ids[7]]);
  });

  test("listing across threads pages through more threads than one page, namespaces included", async ({ storage }) => {
    const saver = new AgentstateSaver({ storage });
    for (let i = 0; i < 105; i++) await chain(saver, `thread-${i}`, 1);
    await chain(saver, "thread-0", 1, "sub");
    const all = await collect(saver.list({ configurable: {} }));
    assert.equal(all.length, 106);
    assert.equal(new Set(all.map((t) => t.checkpoint.id)).size, 106);
    const sub = await collect(saver.list({ configurable: { checkpoint_ns: "sub" } }));
    assert.deepEqual(sub.map((t) => t.config.configurable), [{
      thread_id: "thread-0",
      checkpoint_ns: "sub",
      checkpoint_id: sub[0]!.checkpoint.id,
    }]);
    const ofThread = await collect(saver.list({ configurable: { thread_id: "thread-0" } }));
    assert.deepEqual(ofThread.map((t) => t.config.configurable!.checkpoint_ns).sort(), ["", "sub"]);
    assert.equal((await collect(saver.list({ configurable: {} }, { limit: 7 }))).length, 7);
  });

  test("putWrites: regular writes are kept first-come, special channels replace, parallel tasks all land", async ({ storage }) => {
    const saver = new AgentstateSaver({ storage });
    const [config] = await chain(saver, "w", 1);
    await saver.putWrites(config!, [["a", "first"], ["b", "first"]], "task");
    await saver.putWrites(config!, [["a", "second"], ["b", "second"], ["c", "new"]], "task");
    await saver.putWrites(config!, [[ERROR, "boom"]], "task");
    await saver.putWrites(config!, [[ERROR, "boom again"]], "task");
    await Promise.all(Array.from({ length: 8 }, (_, i) => saver.putWrites(config!, [["p", i]], `parallel-${i}`)));
    const tuple = await saver.getTuple(config!);
    const writes = tuple!.pendingWrites!.filter(([task]) => task === "task");
    assert.deepEqual(writes, [["task", ERROR, "boom again"], ["task", "a", "first"], ["task", "b", "first"], [
      "task",
      "c",
      "new",
    ]]);
    const parallel = tuple!.pendingWrites!.filter(([task]) => task.startsWith("parallel-"));
    assert.deepEqual(
      parallel.map(([task, , value]) => [task, value]),
      Array.from({ length: 8 }, (_, i) => [`parallel-${i}`, i]),
    );
  });

  test("put of a stored checkpoint id replaces it in place", async ({ storage }) => {
    const saver = new AgentstateSaver({ storage });
    const base: RunnableConfig = { configurable: { thread_id: "r" } };
    const c = checkpoint({ x: 1 });
    const config = await saver.put(base, c, META, { x: 1 });
    await saver.put(base, { ...c, channel_values: { x: 2 } }, { ...META, step: 9 }, { x: 1 });
    const tuple = await saver.getTuple(config);
    assert.deepEqual(tuple?.checkpoint.channel_values, { x: 2 });
    assert.equal(tuple?.metadata?.step, 9);
    assert.equal((await collect(saver.list(base))).length, 1);
  });

  test("deleteThread removes every namespace's checkpoints and writes, and nothing else", async ({ storage }) => {
    const saver = new AgentstateSaver({ storage });
    await chain(saver, "gone", 3);
    await chain(saver, "gone", 2, "sub");
    await chain(saver, "kept", 2);
    await storage.appendRuns("unrelated", [{ note: "not LangGraph's" }], { create: true, userId: "gone" });
    await saver.deleteThread("gone");
    assert.equal(await saver.getTuple({ configurable: { thread_id: "gone" } }), undefined);
    assert.equal(await saver.getTuple({ configurable: { thread_id: "gone", checkpoint_ns: "sub" } }), undefined);
    assert.equal((await collect(saver.list({ configurable: {} }))).length, 2);
    assert.equal((await storage.getRuns("unrelated")).runs.length, 1);
    const left = await storage.listSessions({ userId: "gone", limit: 100 });
    assert.deepEqual(left.sessions.map((s) => s.sessionId), ["unrelated"]);
  });

  test("layout: one session per thread and namespace, writes per checkpoint, blobs as base64 inside JSON", async ({ storage }) => {
    const saver = new AgentstateSaver({ storage });
    const thread = 'quo"te\u0000 ]';
    const [config] = await chain(saver, thread, 1, 'n"s');
    const id = config!.configurable!.checkpoint_id as string;
    const run = await storage.getRun(checkpointsSessionId(thread, 'n"s'), id);
    assert.equal(run?.seq, 1);
    const stored = run!.run as { checkpoint: [string, string]; channels: [string, number, [string, string]][] };
    assert.equal(stored.checkpoint[0], "json");
    assert.match(stored.checkpoint[1], /^[A-Za-z0-9+/]+=*$/);
    assert.equal(JSON.parse(atob(stored.checkpoint[1])).id, id);
    assert.deepEqual(stored.channels.map(([ch, v, [, b64]]) => [ch, v, JSON.parse(atob(b64))]), [["step", 1, 0]]);
    const writes = await storage.getRuns(writesSessionId(thread, 'n"s', id));
    assert.deepEqual(writes.runs.map((r) => r.key), [JSON.stringify(["task-0", 0])]);
  });

  test("a stored run that is not a checkpoint is a CorruptRecordError naming it", async ({ storage }) => {
    const saver = new AgentstateSaver({ storage });
    const session = checkpointsSessionId("bad", "");
    await storage.appendRuns(session, [{ checkpoint: "nope" }], { create: true, userId: "bad", keys: ["id-1"] });
    const error = await saver.getTuple({ configurable: { thread_id: "bad", checkpoint_id: "id-1" } }).catch((e) => e);
    assert.ok(error instanceof CorruptRecordError);
    assert.match(error.message, /lg:\["bad",""\] run 1/);
  });

  test("arguments: a storage of another mode and configs without a thread are refused", async ({ storage }) => {
    await using agent = new MemoryStorage({ mode: "agent" });
    assert.throws(() => new AgentstateSaver({ storage: agent as unknown as LangGraphStorage }), /workflow-mode/);
    const saver = new AgentstateSaver({ storage });
    await assert.rejects(saver.put({ configurable: {} }, checkpoint(), META, {}), /thread_id is required/);
    await assert.rejects(saver.putWrites({ configurable: { thread_id: "t" } }, [], "x"), /checkpoint_id is required/);
    await assert.rejects(saver.getTuple({ configurable: { thread_id: 42 } }), /thread_id: expected a non-empty string/);
    assert.equal(await saver.getTuple({ configurable: {} }), undefined);
  });

  test("a new storage on the same location reads what the first one saved", async ({ storage, reopen }) => {
    const configs = await chain(new AgentstateSaver({ storage }), "persist", 3);
    const again = new AgentstateSaver({ storage: reopen() });
    const tuple = await again.getTuple({ configurable: { thread_id: "persist" } });
    assert.deepEqual(tuple?.config, configs[2]);
    assert.deepEqual(tuple?.parentConfig, configs[1]);
    assert.deepEqual(tuple?.pendingWrites, [["task-2", "step", 3]]);
  });
}
