/**
 * Cross-process locking of the JSON backend, with the file locks of
 * `lockfile.ts` (which survive a crashed holder and work alike on Deno,
 * Node.js and Bun). Each acquisition is its own holder, so two storages in
 * one process exclude each other like two processes.
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
import { FileLock } from "./lockfile.ts";
import { LOCK_STRIPES, stripeOf } from "./names.ts";

/** The locks of one mode directory. */
export class DirLocks {
  readonly #dir: string;

  /** Locks under `dir/.locks/`, one directory each. */
  constructor(dir: string) {
    this.#dir = `${dir}/.locks`;
  }

  /** Runs `work` holding the lock `name`. */
  async hold<T>(name: string, exclusive: boolean, work: () => Promise<T>): Promise<T> {
    const release = await new FileLock(`${this.#dir}/${name}`).acquire(exclusive);
    try {
      return await work();
    } finally {
      await release();
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
    const releases: (() => Promise<void>)[] = [];
    try {
      for (const stripe of stripes) releases.push(await new FileLock(`${this.#dir}/${stripe}`).acquire(exclusive));
      return await work();
    } finally {
      for (const release of releases.reverse()) await release();
    }
  }

  /** Runs `work` holding the batch lock. */
  batch<T>(exclusive: boolean, work: () => Promise<T>): Promise<T> {
    return this.hold("batch", exclusive, work);
  }
}
