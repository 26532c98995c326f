/** Starting tests/support/json_worker.ts as a subprocess. */

/** Path of the worker script. */
export const jsonWorker = new URL("./json_worker.ts", import.meta.url).pathname;

/** Spawns the worker with `args`, stdout piped. */
export function spawnJsonWorker(...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", jsonWorker, ...args],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
}
