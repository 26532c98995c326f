/**
 * Runs LangGraph's checkpointer validation suite (`@langchain/langgraph-checkpoint-validation`, unmodified, under
 * vitest) against the saver built to JavaScript: builds `tests/langgraph_node/.build/agentstate.js` with
 * `deno bundle`, installs the folder's locked npm packages when missing (`npm ci`), runs vitest on Node or on Deno
 * and returns its counts per checkpointer.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The folder holding the vitest files, their package.json and lock. */
export const SUITE_DIR = fileURLToPath(new URL("../langgraph_node/", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What one vitest run reported for one checkpointer (a top-level `describe` of `validate`). */
export interface SuiteCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Names of the failed tests, for the assertion message. */
  failures: string[];
}

async function run(command: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { code: result.code, output: text.decode(result.stdout) + text.decode(result.stderr) };
}

/**
 * Why Node 20+ and npm cannot run the suite here, or `null` when they can. Deno runs a missing `node` command as
 * itself, so the check asks the process it started whether it is Node (no `Deno` global).
 */
export async function nodeMissing(): Promise<string | null> {
  const probe = "if (typeof Deno !== 'undefined') process.exit(3); process.stdout.write(process.versions.node)";
  try {
    const { code, output } = await run("node", ["-e", probe], SUITE_DIR);
    if (code === 3) return "`node` is not Node.js (Deno answered in its place)";
    if (code !== 0) return `node -e failed: ${output}`;
    if (Number(output.split(".")[0]) < 20) return `Node ${output} is older than 20`;
    const npm = await run("npm", ["--version"], SUITE_DIR);
    if (npm.code !== 0) return `npm --version failed: ${npm.output}`;
  } catch (error) {
    return `node or npm not found (${error instanceof Error ? error.message : error})`;
  }
  return null;
}

/** Bundles the saver and the backends the vitest files use into `.build/agentstate.js` (npm packages external). */
export async function buildSaver(): Promise<void> {
  const { code, output } = await run(Deno.execPath(), [
    "bundle",
    "--quiet",
    "--config",
    `${ROOT}deno.dev.json`,
    "--external",
    "@langchain/*",
    "--external",
    "npm:@langchain/*",
    "-o",
    `${SUITE_DIR}.build/agentstate.js`,
    `${ROOT}tests/support/langgraph_entry.ts`,
  ], ROOT);
  if (code !== 0) throw new Error(`deno bundle failed:\n${output}`);
  // The adapter imports `npm:@langchain/…@^1/…` (so the library's import map stays free of it); Node wants bare names.
  const file = `${SUITE_DIR}.build/agentstate.js`;
  const text = await Deno.readTextFile(file);
  await Deno.writeTextFile(
    file,
    text.replace(/(["'])npm:(@langchain\/[^@"'/]+)(?:@[^/"']*)?(\/[^"']*)?\1/g, "$1$2$3$1"),
  );
}

/** `npm ci` in the suite folder when its node_modules lacks vitest or the validation package. */
export async function installSuite(): Promise<void> {
  const needed = ["vitest/vitest.mjs", "@langchain/langgraph-checkpoint-validation/package.json"];
  const present = await Promise.all(
    needed.map((p) => Deno.stat(`${SUITE_DIR}node_modules/${p}`).then(() => true, () => false)),
  );
  if (present.every(Boolean)) return;
  const { code, output } = await run("npm", ["ci", "--no-audit", "--no-fund"], SUITE_DIR);
  if (code !== 0) throw new Error(`npm ci in ${SUITE_DIR} failed:\n${output}`);
}

interface VitestJson {
  testResults: { assertionResults: { ancestorTitles: string[]; fullName: string; status: string }[] }[];
}

/** Runs the vitest `files` (name filters) on `runtime`; counts per checkpointer name. */
export async function runSuite(runtime: "node" | "deno", files: string[]): Promise<Map<string, SuiteCounts>> {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const vitest = ["node_modules/vitest/vitest.mjs", "run", ...files, "--reporter=json", `--outputFile=${out}`];
    const [command, args] = runtime === "node"
      ? ["node", vitest]
      : [Deno.execPath(), ["run", "-A", "--config", "deno.json", ...vitest]];
    const { output } = await run(command, args, SUITE_DIR);
    const text = await Deno.readTextFile(out).catch(() => "");
    if (text === "") throw new Error(`vitest on ${runtime} wrote no report:\n${output}`);
    const report = JSON.parse(text) as VitestJson;
    const counts = new Map<string, SuiteCounts>();
    for (const test of report.testResults.flatMap((r) => r.assertionResults)) {
      const name = test.ancestorTitles[0] ?? "?";
      const c = counts.get(name) ?? { passed: 0, failed: 0, skipped: 0, failures: [] };
      if (test.status === "passed") c.passed++;
      else if (test.status === "failed") {
        c.failed++;
        c.failures.push(test.fullName);
      } else c.skipped++;
      counts.set(name, c);
    }
    return counts;
  } finally {
    await Deno.remove(out);
  }
}
