/**
 * Runs LangGraph's checkpointer validation suite (`@langchain/langgraph-checkpoint-validation`, unmodified, under
 * vitest on Node) against the npm build of the saver: installs tests/langgraph_node's locked npm packages when
 * missing (`npm ci`), installs the npm build there (`deno task npm` when stale, `npm pack`, unpacked), runs vitest
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

async function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; output: string }> {
  const result = await new Deno.Command(command, { args, cwd, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  const stdout = text.decode(result.stdout);
  return { code: result.code, stdout, output: stdout + text.decode(result.stderr) };
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

/** What `deno task npm` compiles from: when one is newer than `npm/package.json`, the build is stale. */
const BUILD_INPUTS = ["mod.ts", "backend.ts", "deno.json", "adapters", "backends", "engines", "session", "cli"];

async function newestChange(path: string): Promise<number> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return info.mtime?.getTime() ?? 0;
  let newest = 0;
  for await (const entry of Deno.readDir(path)) newest = Math.max(newest, await newestChange(`${path}/${entry.name}`));
  return newest;
}

/**
 * Installs the npm build into the suite folder as `node_modules/@agentstate/storage`: runs `deno task npm` when
 * `npm/` is missing or older than its sources, packs it (`npm pack`, so exactly the published files) and unpacks the
 * tarball there. Its dependencies come from the folder's lock, which must name each with the build's range.
 */
export async function installBuild(): Promise<void> {
  const built = await Deno.stat(`${ROOT}npm/package.json`).then((s) => s.mtime?.getTime() ?? 0, () => -1);
  const sources = Math.max(...await Promise.all(BUILD_INPUTS.map((p) => newestChange(`${ROOT}${p}`))));
  if (built < sources) {
    const build = await run(Deno.execPath(), ["task", "npm"], ROOT);
    if (build.code !== 0) throw new Error(`deno task npm failed:\n${build.output}`);
  }
  const pkg = JSON.parse(await Deno.readTextFile(`${ROOT}npm/package.json`)) as {
    dependencies: Record<string, string>;
  };
  const suite = JSON.parse(await Deno.readTextFile(`${SUITE_DIR}package.json`)) as {
    devDependencies: Record<string, string>;
  };
  const missing = Object.entries(pkg.dependencies)
    .filter(([name, range]) => !name.startsWith("@types/") && suite.devDependencies[name] !== range)
    .map(([name, range]) => `${name}@${range}`);
  if (missing.length > 0) {
    throw new Error(`tests/langgraph_node/package.json must lock the build's dependencies: npm install -D ${missing}`);
  }
  const work = await Deno.makeTempDir({ prefix: "agentstate-langgraph-pack-" });
  try {
    const pack = await run("npm", ["pack", "--silent", "--pack-destination", work], `${ROOT}npm`);
    if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.output}`);
    const target = `${SUITE_DIR}node_modules/@agentstate/storage`;
    await Deno.remove(target, { recursive: true }).catch(() => {});
    await Deno.mkdir(target, { recursive: true });
    const untar = await run(
      "tar",
      ["-xzf", `${work}/${pack.stdout.trim()}`, "-C", target, "--strip-components=1"],
      ROOT,
    );
    if (untar.code !== 0) throw new Error(`unpacking the npm build failed:\n${untar.output}`);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** `npm ci` in the suite folder when its node_modules lacks one of the packages its package.json names. */
export async function installSuite(): Promise<void> {
  const { devDependencies } = JSON.parse(await Deno.readTextFile(`${SUITE_DIR}package.json`)) as {
    devDependencies: Record<string, string>;
  };
  const present = await Promise.all(
    Object.keys(devDependencies).map((name) =>
      Deno.stat(`${SUITE_DIR}node_modules/${name}/package.json`).then(() => true, () => false)
    ),
  );
  if (present.every(Boolean)) return;
  const { code, output } = await run("npm", ["ci", "--no-audit", "--no-fund"], SUITE_DIR);
  if (code !== 0) throw new Error(`npm ci in ${SUITE_DIR} failed:\n${output}`);
}

interface VitestJson {
  testResults: { assertionResults: { ancestorTitles: string[]; fullName: string; status: string }[] }[];
}

/** Runs vitest on Node over the `files` (name filters), with `env` added; counts per checkpointer name. */
export async function runSuite(files: string[], env: Record<string, string> = {}): Promise<Map<string, SuiteCounts>> {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const vitest = ["node_modules/vitest/vitest.mjs", "run", ...files, "--reporter=json", `--outputFile=${out}`];
    const { output } = await run("node", vitest, SUITE_DIR, env);
    const text = await Deno.readTextFile(out).catch(() => "");
    if (text === "") throw new Error(`vitest wrote no report:\n${output}`);
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
