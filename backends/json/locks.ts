/**
 * Cross-process locking of the JSON backend: OS file locks (`flock`), which
 * the OS releases when the holding process dies, so a crashed writer never
 * blocks others. Each open file description holds its own lock, so two
 * storages in one process exclude each other like two processes.
 *
 * - 64 stripe locks: a write holds, exclusively, the stripes its sessions'
 *   names hash to; a listing holds them shared while it re-reads files named
 *   in the change log (so it never reads a file noted but not yet renamed).
 * - the batch lock: held exclusively while a journaled batch renames its
 *   files, shared by every reader, so no reader sees a batch half-applied.
 * - the change-log lock: shared while appending, exclusive while rotating.
 *
 * Order: stripes (ascending), then the batch lock; never the other way.
 *
 * @module
 */
import { LOCK_STRIPES, stripeOf } from "./names.ts";

/** The locks of one mode directory. */
export class DirLocks {
  readonly #dir: string;

  /** Locks under `dir/.locks/`. */
  constructor(dir: string) {
    this.#dir = `${dir}/.locks`;
  }

  /** Runs `work` holding the lock file `name`. */
  async hold<T>(name: string, exclusive: boolean, work: () => Promise<T>): Promise<T> {
    const file = await this.#open(name, exclusive);
    try {
      await file?.lock(exclusive);
      return await work();
    } finally {
      file?.close();
    }
  }

  /**
   * Opens the lock file `name`. When the directory is gone (dropped by
   * another storage), a writer creates it again; a reader has nothing to
   * exclude and gets `null`.
   */
  async #open(name: string, exclusive: boolean): Promise<Deno.FsFile | null> {
    const path = `${this.#dir}/${name}.lock`;
    try {
      return await Deno.open(path, { create: true, write: true, mode: 0o600 });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      if (!exclusive) return null;
      await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
      return await Deno.open(path, { create: true, write: true, mode: 0o600 });
    }
  }

  /** Runs `work` holding the stripes of the file names `names` (ascending order). */
  async stripes<T>(names: readonly string[], exclusive: boolean, work: () => Promise<T>): Promise<T> {
    return await this.#nested([...new Set(names.map(stripeOf))].sort((a, b) => a - b), exclusive, work);
  }

  /** Runs `work` holding every stripe. */
  async allStripes<T>(exclusive: boolean, work: () => Promise<T>): Promise<T> {
    return await this.#nested(Array.from({ length: LOCK_STRIPES }, (_, i) => i), exclusive, work);
  }

  async #nested<T>(stripes: number[], exclusive: boolean, work: () => Promise<T>): Promise<T> {
    const files: Deno.FsFile[] = [];
    try {
      for (const stripe of stripes) {
        const file = await this.#open(String(stripe), exclusive);
        if (file === null) continue;
        files.push(file);
        await file.lock(exclusive);
      }
      return await work();
    } finally {
      for (const file of files.reverse()) file.close();
    }
  }

  /** Runs `work` holding the batch lock. */
  batch<T>(exclusive: boolean, work: () => Promise<T>): Promise<T> {
    return this.hold("batch", exclusive, work);
  }
}
