// Read-only media for tests.
import { LibsqlStorage } from "../../backends/libsql.ts";

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

/**
 * A libSQL file `backup.db` in `dir` holding session "kept" (user "ada", memory `{ turns: 2 }`, one run `{ n: 1 }`),
 * written by a closed storage and then put on read-only media; `restore` undoes that.
 */
export async function readOnlyBackup(dir: string): Promise<{ path: string; restore: () => Promise<void> }> {
  const path = `${dir}/backup.db`;
  await using writer = new LibsqlStorage({ url: `file:${path}` });
  await writer.upsert({ sessionId: "kept", userId: "ada", memory: { turns: 2 } });
  await writer.appendRuns("kept", [{ n: 1 }], { userId: "ada" });
  await writer.close();
  return { path, restore: await makeReadOnly(dir, path) };
}
