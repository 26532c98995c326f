// AgentstateSaver from the npm build (installed as @agentstate/storage) on a libSQL file beside SqliteSaver
// (@langchain/langgraph-checkpoint-sqlite, better-sqlite3) on Node, rounds alternating the two (bench/ab.ts, bundled
// into .build/ab.js with bench/harness.ts's payload by bench/langgraph_bench.ts, which runs this file and renders the
// table). Usage: node bench.mjs '<json: { dir, threads, checkpoints, rounds, perRound, warmup }>'. Prints one JSON
// line: { results: [workload, AbResult[]][], sqliteMissing: string | null, setupSeconds }.
import { join } from "node:path";
import { uuid6 } from "@langchain/langgraph-checkpoint";
import { AgentstateSaver } from "@agentstate/storage/langgraph";
import { LibsqlStorage } from "@agentstate/storage/libsql";
import { alternate, payload } from "./.build/ab.js";

const options = JSON.parse(process.argv[2]);
const { dir, threads, checkpoints } = options;
const state = payload(2, 1).messages; // about 2 KB of chat messages as JSON
const LONG = "long-thread";

/** SqliteSaver on a new file, or why it cannot load here (better-sqlite3 not built). */
async function openSqliteSaver() {
  try {
    const { SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite");
    const saver = SqliteSaver.fromConnString(join(dir, "sqlite-saver.db"));
    await saver.getTuple({ configurable: { thread_id: "probe" } });
    return { saver, missing: null };
  } catch (error) {
    return { saver: null, missing: (error instanceof Error ? error.message : String(error)).split("\n")[0] };
  }
}

/** Puts the next checkpoint of `thread` after `parent` (undefined for the first), as a graph step would. */
async function putNext(saver, thread, parent, step) {
  const checkpoint = {
    v: 4,
    id: uuid6(-1),
    ts: new Date().toISOString(),
    channel_values: { messages: state, step },
    channel_versions: { messages: step + 1, step: step + 1 },
    versions_seen: { agent: { messages: step } },
  };
  const config = { configurable: { thread_id: thread, checkpoint_ns: "", ...(parent ? { checkpoint_id: parent } : {}) } };
  const metadata = { source: "loop", step, parents: {} };
  const stored = await saver.put(config, checkpoint, metadata, { messages: step + 1, step: step + 1 });
  return stored.configurable.checkpoint_id;
}

/** The long thread of `checkpoints` checkpoints and `threads` threads of one checkpoint, 16 puts at a time. */
async function fill(saver) {
  let parent;
  for (let step = 0; step < checkpoints; step++) parent = await putNext(saver, LONG, parent, step);
  for (let start = 0; start < threads; start += 16) {
    const batch = [];
    for (let t = start; t < Math.min(threads, start + 16); t++) batch.push(putNext(saver, `thread-${t}`, undefined, 0));
    await Promise.all(batch);
  }
}

function check(ok, what) {
  if (!ok) throw new Error(what);
}

const ours = new AgentstateSaver({
  storage: new LibsqlStorage({ mode: "workflow", url: `file:${join(dir, "agentstate.db")}` }),
});
const sqlite = await openSqliteSaver();
const savers = [["AgentstateSaver (LibsqlStorage, file)", ours]];
if (sqlite.saver) savers.push(["SqliteSaver (better-sqlite3)", sqlite.saver]);

const setupSeconds = {};
for (const [name, saver] of savers) {
  const started = performance.now();
  await fill(saver);
  setupSeconds[name] = (performance.now() - started) / 1000;
}

const contenders = (op) =>
  savers.map(([name, saver]) => {
    const tip = { parent: undefined, step: 0, thread: `put-${name}` };
    return { name, op: (i) => op(saver, i, tip) };
  });
const ab = { rounds: options.rounds, perRound: options.perRound, warmup: options.warmup };
const few = { rounds: options.rounds, perRound: 1, warmup: 1 };
const long = { configurable: { thread_id: LONG, checkpoint_ns: "" } };
const workloads = [
  ["put (2 KB state, growing thread)", ab, async (saver, _i, tip) => {
    tip.parent = await putNext(saver, tip.thread, tip.parent, tip.step++);
  }],
  [`getTuple latest (thread of ${checkpoints})`, ab, async (saver) => {
    const tuple = await saver.getTuple(long);
    check(tuple?.checkpoint.channel_values.messages.length === state.length, "getTuple lost the state");
  }],
  [`list whole thread (${checkpoints} tuples)`, few, async (saver) => {
    let n = 0;
    for await (const _ of saver.list(long)) n++;
    check(n === checkpoints, `list returned ${n} of ${checkpoints}`);
  }],
  [`list thread, limit 10 (of ${checkpoints})`, ab, async (saver) => {
    let n = 0;
    for await (const _ of saver.list(long, { limit: 10 })) n++;
    check(n === 10, `list limit 10 returned ${n}`);
  }],
  [`list across threads, limit 10 (${threads.toLocaleString("en-US")} threads)`, ab, async (saver) => {
    let n = 0;
    for await (const _ of saver.list({ configurable: {} }, { limit: 10 })) n++;
    check(n === 10, `list across threads returned ${n}`);
  }],
];
const results = [];
for (const [workload, runs, op] of workloads) results.push([workload, await alternate(contenders(op), runs)]);
await ours.storage.close();
sqlite.saver?.db.close();
console.log(JSON.stringify({ results, sqliteMissing: sqlite.missing, setupSeconds }));
