/**
 * Starting tests/support/json_worker.ts as a subprocess: under Deno as it
 * is, or under Node.js and Bun bundled to one JavaScript file by
 * `deno bundle --platform node` (built once per test process).
 */

/** Path of the worker script. */
export const jsonWorker = new URL("./json_worker.ts", import.meta.url).pathname;

/** How to start the worker on one runtime: `command` then `args` then the worker's own arguments. */
export interface WorkerRuntime {
  /** "deno", "node" or "bun". */
  name: string;
  command: string;
  args: string[];
}

/** The worker under this Deno. */
export const DENO: WorkerRuntime = { name: "deno", command: Deno.execPath(), args: ["run", "-A", jsonWorker] };

/** Spawns the worker under Deno with `args`, stdout piped. */
export function spawnJsonWorker(...args: string[]): Deno.ChildProcess {
  return spawnJsonWorkerOn(DENO, ...args);
}

/** Spawns the worker on `runtime` with `args`, stdout piped. */
export function spawnJsonWorkerOn(runtime: WorkerRuntime, ...args: string[]): Deno.ChildProcess {
  return new Deno.Command(runtime.command, {
    args: [...runtime.args, ...args],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Starts the worker on `runtime`, waits for its first output line, lets it work `ms`, then SIGKILLs it. */
export async function killWorkerWhileWriting(runtime: WorkerRuntime, args: string[], ms: number): Promise<void> {
  const child = spawnJsonWorkerOn(runtime, ...args);
  const reader = child.stdout.getReader();
  await reader.read();
  await new Promise((r) => setTimeout(r, ms));
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
}

async function runs(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

let bundled: Promise<string> | null = null;

/** The worker bundled for Node.js and Bun (one `.mjs` in a temporary directory removed at exit). */
function bundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "agentstate-json-worker-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const out = `${dir}/json_worker.mjs`;
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "node", "-o", out, jsonWorker],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(result.stderr)}`);
    return out;
  })();
  return bundled;
}

/** Where Bun is looked for: $BUN, else .tools/bun (`npm install --prefix .tools/bun bun@1`), else `bun` on PATH. */
function bunCommand(): string {
  const env = Deno.env.get("BUN");
  if (env) return env;
  const local = new URL("../../.tools/bun/node_modules/.bin/bun", import.meta.url).pathname;
  try {
    Deno.statSync(local);
    return local;
  } catch {
    return "bun";
  }
}

/**
 * Node.js ($NODE or `node`) and Bun, each when it runs here, with the
 * bundled worker; `missing` names the others.
 */
export async function otherRuntimes(): Promise<{ runtimes: WorkerRuntime[]; missing: string[] }> {
  const runtimes: WorkerRuntime[] = [];
  const missing: string[] = [];
  for (const [name, command] of [["node", Deno.env.get("NODE") ?? "node"], ["bun", bunCommand()]] as const) {
    if (await runs(command)) runtimes.push({ name, command, args: [await bundle()] });
    else missing.push(`${name} (${command})`);
  }
  return { runtimes, missing };
}
