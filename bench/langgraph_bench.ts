/**
 * LangGraph checkpointers side by side on Node: AgentstateSaver from the npm build on a libSQL file against
 * `SqliteSaver` (`@langchain/langgraph-checkpoint-sqlite` on better-sqlite3, which does not load in Deno), in one
 * process with rounds alternating the two (bench/ab.ts). Sets up the Node project bench/langgraph_node/ (its locked
 * packages, the npm build as `@agentstate/storage`, bench/ab.ts and harness.ts's payload bundled into `.build/`),
 * then runs its bench.mjs.
 *
 * better-sqlite3 has no prebuilt binary reachable here (they come from GitHub), so its install script compiles it
 * with node-gyp (minutes on 2 cores): a full run builds it when it does not load; `--smoke` installs without
 * install scripts and measures AgentstateSaver alone unless better-sqlite3 is already built.
 *
 * Run alone: `deno run -A --config deno.dev.json bench/langgraph_bench.ts [--smoke]` (without `--smoke` it
 * replaces its section of bench/RESULTS.md).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { installBuild, installPackages, nodeMissing, run } from "../tests/support/node_project.ts";
import { type AbResult, abTable } from "./ab.ts";
import { fmt } from "./harness.ts";

const BENCH_DIR = fileURLToPath(new URL("./langgraph_node/", import.meta.url));
const TITLE = "## LangGraph checkpointers: AgentstateSaver (libSQL file) vs SqliteSaver, on Node";

/** Why better-sqlite3 does not load in the bench project, or `null` when it does. */
async function sqliteMissing(): Promise<string | null> {
  const probe = await run("node", ["-e", "new (require('better-sqlite3'))(':memory:').close()"], BENCH_DIR);
  return probe.code === 0 ? null : probe.output.trim().split("\n").slice(0, 3).join(" ");
}

/** Bundles `alternate` (bench/ab.ts) and `payload` (bench/harness.ts) for bench.mjs. */
async function bundleHarness(dir: string): Promise<void> {
  const entry = `${dir}/langgraph-bench-entry.ts`;
  const here = (file: string) => new URL(file, import.meta.url).pathname;
  await Deno.writeTextFile(
    entry,
    `export { alternate } from "${here("./ab.ts")}";\nexport { payload } from "${here("./harness.ts")}";\n`,
  );
  const bundle = await run(Deno.execPath(), [
    "bundle",
    "--quiet",
    "--config",
    here("../deno.dev.json"),
    "-o",
    `${BENCH_DIR}.build/ab.js`,
    entry,
  ], BENCH_DIR);
  if (bundle.code !== 0) throw new Error(`deno bundle of bench/ab.ts failed:\n${bundle.output}`);
}

interface BenchOutput {
  results: [string, AbResult[]][];
  sqliteMissing: string | null;
  setupSeconds: Record<string, number>;
}

/** Runs the comparison (tiny sizes with `smoke`) and returns a Markdown section. */
export async function langgraphSection({ smoke, dir }: { smoke: boolean; dir: string }): Promise<string> {
  const node = await nodeMissing();
  if (node !== null) throw new Error(`the LangGraph bench needs Node 20+ and npm: ${node}`);
  await installPackages(BENCH_DIR, { ignoreScripts: smoke });
  let build: string | null = null;
  if (!smoke && await sqliteMissing() !== null) {
    const started = performance.now();
    const rebuild = await run("npm", ["rebuild", "better-sqlite3"], BENCH_DIR);
    const why = await sqliteMissing();
    build = why === null
      ? `compiled from source by its install script in ${fmt((performance.now() - started) / 1000)} s`
      : `\`npm rebuild better-sqlite3\` failed (exit ${rebuild.code}): ${
        rebuild.output.trim().split("\n").slice(-5).join(" ")
      }; then: ${why}`;
  }
  await installBuild(BENCH_DIR);
  await bundleHarness(dir);
  const sizes = smoke
    ? { threads: 200, checkpoints: 50, rounds: 2, perRound: 5, warmup: 2 }
    : { threads: 10_000, checkpoints: 1_000, rounds: 15, perRound: 40, warmup: 20 };
  const work = await Deno.makeTempDir({ dir, prefix: "langgraph-" });
  const bench = await run("node", ["bench.mjs", JSON.stringify({ dir: work, ...sizes })], BENCH_DIR);
  if (bench.code !== 0) throw new Error(`bench/langgraph_node/bench.mjs failed:\n${bench.output}`);
  const out = JSON.parse(bench.stdout.trim().split("\n").at(-1)!) as BenchOutput;
  const versions = JSON.parse(await Deno.readTextFile(`${BENCH_DIR}package-lock.json`)).packages as Record<
    string,
    { version: string }
  >;
  const version = (name: string) => versions[`node_modules/${name}`]?.version ?? "?";
  const node20 = (await run("node", ["--version"], BENCH_DIR)).stdout.trim();
  const setup = Object.entries(out.setupSeconds).map(([name, s]) => `${name} ${fmt(s)} s`).join(", ");
  const sqlite = out.sqliteMissing === null
    ? `SqliteSaver ${version("@langchain/langgraph-checkpoint-sqlite")} on better-sqlite3 ${
      version("better-sqlite3")
    } (WAL, its default synchronous=FULL${build ? `; better-sqlite3 ${build}` : ""})`
    : `SqliteSaver, **not measured**: better-sqlite3 did not load (${out.sqliteMissing}${
      smoke ? "; --smoke installs without install scripts, so it is not compiled" : ""
    }${build ? `; ${build}` : ""})`;
  return `${TITLE}\n\n` +
    `Node ${node20}, one process: AgentstateSaver from the npm build (\`deno task npm\`, packed and installed) on ` +
    `LibsqlStorage over a file (the \`libsql\` package, WAL, synchronous=NORMAL) vs ${sqlite}. Each saver has its own file holding a thread of ${
      sizes.checkpoints.toLocaleString("en-US")
    } ` +
    `checkpoints and ${sizes.threads.toLocaleString("en-US")} threads of one checkpoint, put through \`put\` ` +
    `(setup: ${setup}); a checkpoint holds a ~2 KB \`messages\` channel and a \`step\` channel, both new each step. ` +
    `Rounds alternate the savers (${sizes.rounds} rounds of ${sizes.perRound} operations, 1 for the whole-thread ` +
    `list); CPU is the Node process's user + system µs per operation (median over rounds), wall the median ` +
    `operation. Every operation checks its result. "list across threads" is \`list({ configurable: {} }, ` +
    `{ limit: 10 })\`: SqliteSaver orders every stored checkpoint by id (a scan of the table), AgentstateSaver ` +
    `reads one page of threads and their latest checkpoints. better-sqlite3 ships no binary reachable from this ` +
    `machine (its prebuilt binaries download from GitHub), so npm's install script compiles it with node-gyp ` +
    `(1 to 3 minutes on 2 cores); \`--smoke\` installs without install scripts and measures AgentstateSaver ` +
    `alone. Issue 19's target, no worse than SqliteSaver on \`put\` and \`getTuple\`, is compared in the first rows.\n\n` +
    abTable(out.results) + "\n";
}

if (import.meta.main) {
  const smoke = Deno.args.includes("--smoke");
  const dir = await Deno.makeTempDir({ prefix: "agentstate-bench-" });
  try {
    const section = await langgraphSection({ smoke, dir });
    console.log(section);
    if (!smoke) {
      const file = new URL("./RESULTS.md", import.meta.url);
      const text = await Deno.readTextFile(file);
      const start = text.indexOf(TITLE);
      const end = start < 0 ? -1 : text.indexOf("\n## ", start + TITLE.length);
      const updated = start < 0
        ? `${text.trimEnd()}\n\n${section}`
        : `${text.slice(0, start)}${section}${end < 0 ? "" : text.slice(end)}`;
      await Deno.writeTextFile(file, updated);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
