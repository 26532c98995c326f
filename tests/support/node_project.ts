/**
 * A Node project of this repository (a folder with package.json and package-lock.json, e.g. tests/langgraph_node/
 * or bench/langgraph_node/) set up from Deno: its locked packages installed, the npm build of agentstate installed
 * into it as `@agentstate/storage`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `command` in `cwd` (with `env` added); its exit code, stdout, and stdout + stderr. */
export async function run(
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
 * Why Node 20+ and npm cannot run here, or `null` when they can. Deno runs a missing `node` command as
 * itself, so the check asks the process it started whether it is Node (no `Deno` global).
 */
export async function nodeMissing(): Promise<string | null> {
  const probe = "if (typeof Deno !== 'undefined') process.exit(3); process.stdout.write(process.versions.node)";
  try {
    const { code, output } = await run("node", ["-e", probe], ROOT);
    if (code === 3) return "`node` is not Node.js (Deno answered in its place)";
    if (code !== 0) return `node -e failed: ${output}`;
    if (Number(output.split(".")[0]) < 20) return `Node ${output} is older than 20`;
    const npm = await run("npm", ["--version"], ROOT);
    if (npm.code !== 0) return `npm --version failed: ${npm.output}`;
  } catch (error) {
    return `node or npm not found (${error instanceof Error ? error.message : error})`;
  }
  return null;
}

/** What `deno task npm` compiles from: when one is newer than `npm/package.json`, the build is stale. */
const BUILD_INPUTS = ["mod.ts", "backend.ts", "deno.json", "adapters", "backends", "engines", "session", "cli"];

/** The newest modification time under `path` (0 when it does not exist). */
async function newestChange(path: string): Promise<number> {
  const info = await Deno.stat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  if (info === null) return 0;
  if (!info.isDirectory) return info.mtime?.getTime() ?? 0;
  let newest = 0;
  for await (const entry of Deno.readDir(path)) newest = Math.max(newest, await newestChange(`${path}/${entry.name}`));
  return newest;
}

/**
 * Installs the npm build into the Node project `dir` as `node_modules/@agentstate/storage`: runs `deno task npm`
 * when `npm/` is missing or older than its sources, packs it (`npm pack`, so exactly the published files) and
 * unpacks the tarball there. Its dependencies come from the project's lock, which must name each with the build's
 * range.
 */
export async function installBuild(dir: string): Promise<void> {
  const built = await Deno.stat(`${ROOT}npm/package.json`).then((s) => s.mtime?.getTime() ?? 0, () => -1);
  const sources = Math.max(...await Promise.all(BUILD_INPUTS.map((p) => newestChange(`${ROOT}${p}`))));
  if (built < sources) {
    const build = await run(Deno.execPath(), ["task", "npm"], ROOT);
    if (build.code !== 0) throw new Error(`deno task npm failed:\n${build.output}`);
  }
  const pkg = JSON.parse(await Deno.readTextFile(`${ROOT}npm/package.json`)) as {
    dependencies: Record<string, string>;
  };
  const { devDependencies } = await packageJson(dir);
  const missing = Object.entries(pkg.dependencies)
    .filter(([name, range]) => !name.startsWith("@types/") && devDependencies[name] !== range)
    .map(([name, range]) => `${name}@${range}`);
  if (missing.length > 0) {
    throw new Error(`${dir}package.json must lock the build's dependencies: npm install -D ${missing.join(" ")}`);
  }
  const work = await Deno.makeTempDir({ prefix: "agentstate-langgraph-pack-" });
  try {
    const pack = await run("npm", ["pack", "--silent", "--pack-destination", work], `${ROOT}npm`);
    if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.output}`);
    const target = `${dir}node_modules/@agentstate/storage`;
    await Deno.remove(target, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
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

async function packageJson(dir: string): Promise<{ devDependencies: Record<string, string> }> {
  return JSON.parse(await Deno.readTextFile(`${dir}package.json`));
}

/** The version installed in `dir`'s node_modules of package `name`, or `null` when it is not installed. */
async function installedVersion(dir: string, name: string): Promise<string | null> {
  try {
    return (JSON.parse(await Deno.readTextFile(`${dir}node_modules/${name}/package.json`)) as { version: string })
      .version;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * `npm ci` in the Node project `dir` unless each package its package.json names is installed at the version its
 * package-lock.json pins; `ignoreScripts` skips the packages' install scripts (no native build).
 */
export async function installPackages(dir: string, options: { ignoreScripts?: boolean } = {}): Promise<void> {
  const { devDependencies } = await packageJson(dir);
  const lock = JSON.parse(await Deno.readTextFile(`${dir}package-lock.json`)) as {
    packages: Record<string, { version?: string }>;
  };
  const current = await Promise.all(
    Object.keys(devDependencies).map(async (name) =>
      await installedVersion(dir, name) === lock.packages[`node_modules/${name}`]?.version
    ),
  );
  if (current.every(Boolean)) return;
  const args = ["ci", "--no-audit", "--no-fund", ...(options.ignoreScripts ? ["--ignore-scripts"] : [])];
  const { code, output } = await run("npm", args, dir);
  if (code !== 0) throw new Error(`npm ci in ${dir} failed:\n${output}`);
}
