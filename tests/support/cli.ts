/** Runs the CLI (cli/main.ts) as a subprocess, for the CLI tests. */
import assert from "node:assert/strict";

/** Path of the CLI's entry point. */
export const main = new URL("../../cli/main.ts", import.meta.url).pathname;

/** Exit code and output of one run. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` with `args` in `cwd` (no colours), optionally feeding `stdin`; its exit code and output. */
export async function runCommand(
  command: string,
  args: string[],
  cwd: string,
  stdin?: string | Uint8Array,
): Promise<Result> {
  const child = new Deno.Command(command, {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

/** Runs the CLI as a subprocess in `cwd`, optionally feeding `stdin`. */
export function cli(cwd: string, args: string[], stdin?: string | Uint8Array): Promise<Result> {
  return runCommand(Deno.execPath(), ["run", "-A", main, ...args], cwd, stdin);
}

/** Runs the CLI and asserts exit code 0. */
export async function ok(cwd: string, ...args: string[]): Promise<Result> {
  const result = await cli(cwd, args);
  assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  return result;
}
