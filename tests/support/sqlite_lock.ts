/**
 * Another process holding a SQLite file's write lock: for tests of how a
 * storage waits for a busy database.
 *
 * @module
 */

/** A process holding the write lock of a file; `release()` ends it early and waits for it. */
export interface LockHolder {
  /** Ends the holder (its transaction rolls back) and waits for the process to exit. */
  release(): Promise<void>;
}

/**
 * Starts a Deno process that opens `path` (an agentstate libSQL file whose
 * agent table exists), takes the write lock with an uncommitted insert and
 * holds it for `ms`; resolves once the lock is held.
 */
export async function holdWriteLock(path: string, ms: number): Promise<LockHolder> {
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `
      import { createClient } from "npm:@libsql/client@^0.18";
      const c = createClient({ url: ${JSON.stringify(`file:${path}`)} });
      const tx = await c.transaction("write");
      await tx.execute("INSERT INTO agent_sessions (session_id, created_at, updated_at, version) VALUES ('x', 0, 0, 1)");
      console.log("locked");
      await new Promise((r) => setTimeout(r, ${ms}));
      await tx.rollback();
      c.close();
      `,
    ],
    stdout: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = holder.stdout.getReader();
  const { value } = await reader.read();
  const said = new TextDecoder().decode(value);
  if (!said.includes("locked")) throw new Error(`the lock holder did not take the lock: ${JSON.stringify(said)}`);
  return {
    async release() {
      reader.releaseLock();
      await holder.stdout.cancel();
      await holder.status;
    },
  };
}
