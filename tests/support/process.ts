/** Waits for `child`'s first output, lets it work `ms`, then SIGKILLs it and waits for it to end. */
export async function killAfterFirstOutput(child: Deno.ChildProcess, ms: number): Promise<void> {
  const reader = child.stdout.getReader();
  await reader.read();
  await new Promise((r) => setTimeout(r, ms));
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
}

/** Runs a Deno script as a subprocess, waits for its first output line, lets it work `ms`, then SIGKILLs it. */
export async function killWhileWriting(script: string, args: string[], ms: number): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  await killAfterFirstOutput(child, ms);
}
