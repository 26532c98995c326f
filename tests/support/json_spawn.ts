/**
 * Starting tests/support/json_worker.ts as a subprocess: under Deno as it
 * is, or under Node.js and Bun bundled to one JavaScript file
 * (tests/support/runtimes.ts, built once per test process).
 */
import { killAfterFirstOutput } from "./process.ts";
import { bundleForNode, nodeAndBun } from "./runtimes.ts";

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
  await killAfterFirstOutput(spawnJsonWorkerOn(runtime, ...args), ms);
}

/**
 * Node.js and Bun, each when it runs here, with the bundled worker;
 * `missing` names the others.
 */
export async function otherRuntimes(): Promise<{ runtimes: WorkerRuntime[]; missing: string[] }> {
  const { runtimes, missing } = await nodeAndBun();
  if (runtimes.length === 0) return { runtimes: [], missing };
  const script = await bundleForNode(jsonWorker);
  return { runtimes: runtimes.map(({ name, command }) => ({ name, command, args: [script] })), missing };
}
