/** A temporary directory for a test file, removed by `remove()`. */
export interface TempDir {
  /** Absolute path. */
  path: string;
  /** Deletes it and everything inside. */
  remove(): Promise<void>;
}

/**
 * Makes a temporary directory named after `prefix`; with `inMemory`, on the
 * tmpfs `/dev/shm` when there is one (fsync costs nothing there: for tests
 * writing thousands of files whose speed on disk is not what they test).
 */
export async function tempDir(prefix: string, { inMemory = false } = {}): Promise<TempDir> {
  const shm = inMemory ? await Deno.stat("/dev/shm").then((info) => info.isDirectory, () => false) : false;
  const path = await Deno.makeTempDir({ prefix: `agentstate-${prefix}-`, ...(shm ? { dir: "/dev/shm" } : {}) });
  return {
    path,
    remove: () =>
      Deno.remove(path, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }),
  };
}
