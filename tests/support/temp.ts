/** A temporary directory for a test file, removed by `remove()`. */
export interface TempDir {
  /** Absolute path. */
  path: string;
  /** Deletes it and everything inside. */
  remove(): Promise<void>;
}

/** Makes a temporary directory named after `prefix`. */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: `agentstate-${prefix}-` });
  return {
    path,
    remove: () =>
      Deno.remove(path, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }),
  };
}
