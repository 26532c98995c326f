/**
 * A cross-process reader-writer lock made of files, for runtimes without
 * `flock` (Node.js, Bun) and used on every runtime, so that Deno, Node.js
 * and Bun processes sharing a directory exclude each other.
 *
 * A lock is a directory. Its writer holds the file `w`; each reader holds
 * its own file `r-<token>-<n>`. Every lock file is a hard link to its
 * process's owner file (`owner-<token>` beside the lock directories, written
 * once per process), which names the owner: process id, host name, the
 * process's start time (Linux) and a random token. Taking a lock is one
 * `link()`, which fails when the name exists. A writer links `w`, then
 * waits until no reader file is left; a reader links its file, then looks
 * for `w`: if a writer is there it removes its file and waits (writers go
 * first, so readers never starve them). Each side creates its own file
 * before looking for the other's, so one of the two always sees the other.
 *
 * A crashed holder cannot release its lock; the next contender checks its
 * owner and takes the lock over when the owner is dead: same host and no
 * process with that id (`process.kill(pid, 0)` fails with ESRCH), or a
 * process with that id but another start time (the id was reused, as after
 * a container restart), or this very process with another token (an earlier
 * process that had the same id and start time). A reader file of a dead
 * owner is simply removed (its name is unique); `w` is removed under a short
 * takeover guard (`w.takeover`, linked exclusively) after re-reading that it
 * still names the dead owner, so two contenders never remove a lock one of
 * them just took. A file whose owner cannot be read (edited by hand) counts
 * as dead once it is a few seconds old. An owner on another host is never
 * judged dead: its lock stays until it releases it or someone removes the
 * file by hand. Owner files of dead processes are removed when a process
 * writes its own.
 *
 * Waiting polls, backing off from 1 ms to 25 ms.
 *
 * @module
 */
import {
  createExclusive,
  isAlreadyExists,
  isNotFound,
  linkIfAbsent,
  listDir,
  lstatOrNull,
  makeDir,
  readText,
  readTextIfPresent,
  removeIfPresent,
} from "./files.ts";

/** How old an unreadable lock file must be before it counts as left by a dead writer. */
export const UNREADABLE_STALE_MS = 5_000;
const MAX_BACKOFF_MS = 25;

/** Who holds a lock file. */
interface LockOwner {
  pid: number;
  host: string;
  /** The process's start time (Linux `/proc/<pid>/stat` field 22), or `null` where unknown. */
  start: string | null;
  /** Random, one per process. */
  token: string;
}

let self: Promise<LockOwner> | null = null;
let readers = 0;

/** The start time of process `pid`, or `null` when it cannot be read (no `/proc`, or no such process). */
export async function startTime(pid: number | "self"): Promise<string | null> {
  try {
    const stat = await readText(`/proc/${pid}/stat`);
    // Field 2 (the command) is in parentheses and may hold spaces: count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function thisProcess(): Promise<LockOwner> {
  self ??= Promise.all([import("node:os"), startTime("self")])
    .then(([os, start]) => ({ pid: process.pid, host: os.hostname(), start, token: crypto.randomUUID() }));
  return self;
}

/** Whether the owner named by a lock file is certainly dead (its lock may be taken over). */
async function ownerIsDead(owner: LockOwner): Promise<boolean> {
  const me = await thisProcess();
  if (owner.host !== me.host) return false;
  if (owner.pid === me.pid && owner.start === me.start) return owner.token !== me.token;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    return (error as { code?: unknown }).code === "ESRCH";
  }
  if (owner.start === null) return false;
  const start = await startTime(owner.pid);
  return start !== null && start !== owner.start;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const owner = JSON.parse(text);
    const ok = typeof owner?.pid === "number" && typeof owner.host === "string" && typeof owner.token === "string" &&
      (owner.start === null || typeof owner.start === "string");
    return ok ? owner : null;
  } catch {
    return null;
  }
}

/** Whether the lock file `path` is gone (`null`), held, or left by a dead owner (with its token, if readable). */
async function lockFileState(path: string): Promise<{ dead: false } | { dead: true; token: string | null } | null> {
  const text = await readTextIfPresent(path);
  if (text === null) return null;
  const owner = parseOwner(text);
  if (owner !== null) return await ownerIsDead(owner) ? { dead: true, token: owner.token } : { dead: false };
  const info = await lstatOrNull(path);
  if (info === null) return null;
  return Date.now() - info.mtimeMs > UNREADABLE_STALE_MS ? { dead: true, token: null } : { dead: false };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms * (0.5 + Math.random())));
}

/** One lock: the directory `dir`. */
export class FileLock {
  readonly #dir: string;
  readonly #root: string;

  /** The lock whose files live in `dir` (created when needed), its owner files in the parent directory. */
  constructor(dir: string) {
    this.#dir = dir;
    this.#root = dir.slice(0, dir.lastIndexOf("/"));
  }

  /**
   * Takes the lock (`exclusive`: as its writer) and returns its release.
   * A reader finding no parent directory (the whole directory was dropped)
   * has nothing to exclude and gets a release that does nothing.
   */
  async acquire(exclusive: boolean): Promise<() => Promise<void>> {
    return exclusive ? await this.#write() : await this.#read();
  }

  /**
   * Links this process's owner file as `name`: `false` when that exists.
   * A missing owner file or lock directory is made; a missing parent too
   * when `parents` (a writer), else the answer is `null` (the whole
   * directory was dropped).
   */
  async #link(name: string, parents: boolean): Promise<boolean | null> {
    const owner = `${this.#root}/owner-${(await thisProcess()).token}`;
    for (;;) {
      try {
        return await linkIfAbsent(owner, `${this.#dir}/${name}`);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      try {
        await makeDir(this.#dir, parents);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
      if (await lstatOrNull(owner) === null) await this.#writeOwner(owner);
    }
  }

  /** Writes this process's owner file, and removes those of dead processes. */
  async #writeOwner(path: string): Promise<void> {
    try {
      await createExclusive(path, JSON.stringify(await thisProcess()));
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    for (const { name } of await listDir(this.#root)) {
      if (!name.startsWith("owner-") || `${this.#root}/${name}` === path) continue;
      if ((await lockFileState(`${this.#root}/${name}`))?.dead) await removeIfPresent(`${this.#root}/${name}`);
    }
  }

  async #write(): Promise<() => Promise<void>> {
    const path = `${this.#dir}/w`;
    for (let wait = 1; !await this.#link("w", true); wait = Math.min(wait * 2, MAX_BACKOFF_MS)) {
      if (!await this.#takeOverWriter()) await sleep(wait);
    }
    const release = () => removeIfPresent(path);
    try {
      for (let wait = 1; await this.#liveReaders(); wait = Math.min(wait * 2, MAX_BACKOFF_MS)) await sleep(wait);
    } catch (error) {
      await release();
      throw error;
    }
    return release;
  }

  async #read(): Promise<() => Promise<void>> {
    const name = `r-${(await thisProcess()).token}-${readers++}`;
    const release = () => removeIfPresent(`${this.#dir}/${name}`);
    for (let wait = 1;; wait = Math.min(wait * 2, MAX_BACKOFF_MS)) {
      const linked = await this.#link(name, false);
      if (linked === null) return () => Promise.resolve();
      if (await lstatOrNull(`${this.#dir}/w`) === null) return release;
      await release();
      if (!await this.#takeOverWriter()) await sleep(wait);
    }
  }

  /** Whether a live reader holds the lock; files of dead readers are removed. */
  async #liveReaders(): Promise<boolean> {
    let live = false;
    for (const { name } of await listDir(this.#dir)) {
      if (!name.startsWith("r-")) continue;
      const state = await lockFileState(`${this.#dir}/${name}`);
      if (state?.dead) await removeIfPresent(`${this.#dir}/${name}`);
      else if (state !== null) live = true;
    }
    return live;
  }

  /** Removes `w` when its owner is dead, under the takeover guard; `true` if it did (retry at once). */
  async #takeOverWriter(): Promise<boolean> {
    const path = `${this.#dir}/w`;
    const state = await lockFileState(path);
    if (state === null) return true;
    if (!state.dead) return false;
    const guard = `${path}.takeover`;
    if (!await this.#link("w.takeover", false)) {
      if ((await lockFileState(guard))?.dead) await removeIfPresent(guard);
      return false;
    }
    try {
      const again = await lockFileState(path);
      if (again?.dead && again.token === state.token) await removeIfPresent(path);
    } finally {
      await removeIfPresent(guard);
    }
    return true;
  }
}
