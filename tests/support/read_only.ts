// Read-only media for tests.

/** Makes `dir` read-only for this process: a read-only bind mount as root (root ignores modes), modes 0555/0444 otherwise. */
export async function makeReadOnly(dir: string, file: string): Promise<() => Promise<void>> {
  if (Deno.uid() === 0) {
    const run = async (command: string, ...args: string[]) => {
      const { code, stderr } = await new Deno.Command(command, { args, stderr: "piped" }).output();
      if (code !== 0) throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
    };
    await run("mount", "--bind", dir, dir);
    await run("mount", "-o", "remount,ro,bind", dir);
    // Lazy: the mount goes even while a handle in this process still holds a file on it.
    return () => run("umount", "-l", dir);
  }
  await Deno.chmod(file, 0o444);
  await Deno.chmod(dir, 0o555);
  return async () => {
    await Deno.chmod(dir, 0o755);
    await Deno.chmod(file, 0o644);
  };
}
