/**
 * {@linkcode JsonStorage}: one pretty-printed JSON file per session, so people
 * can open, diff and commit their agents' sessions.
 *
 * Layout under `dir`:
 *
 * - `<mode>/<name>.json`: the session, its fields as in TypeScript, plus
 *   `runCount` (how many lines of its run log count).
 * - `<mode>/<name>.runs.ndjson`: its run log, one `{ seq, createdAt, run }` a line.
 * - `<mode>/.locks/`: 64 stripe locks (a session's writes hold the one its
 *   name hashes to), the batch lock and the change-log lock.
 * - `<mode>/.journal/`: the journal of a batch being applied.
 * - `<mode>/.changes`: the names of changed files, one a line, noted by
 *   every write so that other storages on the directory refresh only those.
 *
 * File names encode the id so that no id can escape the directory or collide
 * with another on a case-insensitive file system: `s-` then the id with every
 * character other than `a-z`, `0-9`, `-` and `_` written as `%` and two
 * lowercase hex digits per UTF-8 byte (so `A` is `%41`, `/` is `%2f`, `.` is
 * `%2e`). An id whose name would pass 200 bytes is named `h-<sha-256 of the id>`;
 * the full id is always inside the file.
 *
 * Writes are atomic and never short: every byte of a temporary file in the
 * same directory is written (a short write is an error, as on a full disk),
 * fsynced and renamed over the file; a failed write removes its temporary
 * file and leaves the old file as it was. A change of several files (a
 * batch, a session with its replaced run log, a deletion) goes through a
 * journal naming the version of every file it replaces: it lands whole or
 * not at all, open storages never see it half-applied, and a journal left by
 * a killed writer is rolled forward before anyone reads or writes, and only
 * over the files it was written against. A write notes its file in the
 * change log before its commit point: an error means nothing was written,
 * or (after the commit point) that the write is kept and listed.
 *
 * `expectedVersion` holds across processes: writers take OS file locks
 * (`flock`), which the OS releases when its holder dies, so a crashed writer
 * never blocks others.
 *
 * Listing keeps an in-memory index of every session's id, user, entity, name
 * and times, sorted by `createdAt` and by `updatedAt`, built by one scan of
 * the directory (about 0.3–0.5 s at 10 000 sessions) and kept current from
 * the change log. A page binary-searches to its cursor and reads only its
 * files; a page file changed since the index saw it is re-indexed and the
 * page selected again, so a page is never short before the end and createdAt
 * paging never skips. Files changed by hand are picked up by `create()` or a
 * new storage.
 *
 * A corrupt session file, one holding another id than its name encodes, a
 * run log missing, cut short or garbled within its counted lines, and a
 * symbolic link in place of a session file, run log or change log are a
 * `CorruptRecordError` naming the file (and line): links are never followed,
 * and a session is never silently left out, answered for another or
 * returned with fewer runs.
 *
 * This backend uses the `Deno` namespace (files, locks), so it runs in
 * Deno; the other backends are runtime-neutral.
 *
 * @module
 */
import { KvEngine } from "../engines/kv.ts";
import { BaseSessionStorage } from "../session/base.ts";
import { ValidationError } from "../session/errors.ts";
import type { BaseStorageOptions, SessionMode, StorageCapabilities } from "../session/types.ts";
import { JsonKvStore } from "./json/store.ts";

export { encodeFileName } from "./json/names.ts";
export { STALE_TEMP_MS } from "./json/store.ts";

/** Options of {@linkcode JsonStorage}. */
export interface JsonStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** The directory holding the sessions (created, owner-only, if missing). */
  dir: string;
}

function checkDir(options: { dir?: unknown } | undefined): string {
  if (typeof options?.dir !== "string" || options.dir === "") {
    throw new ValidationError([{ path: ["dir"], message: "expected a directory path" }]);
  }
  return options.dir.replace(/\/+$/, "");
}

/**
 * Keeps each session in its own JSON file under `dir/<mode>/`.
 *
 * @typeParam M The mode of the sessions held.
 *
 * @example Sessions you can open in an editor
 * ```ts ignore
 * import { JsonStorage } from "@agentstate/storage";
 * await using storage = new JsonStorage({ mode: "agent", dir: "./sessions" });
 * await storage.upsert({ sessionId: "chat-1", memory: { turns: 1 } });
 * // ./sessions/agent/s-chat-1.json now holds the session, pretty-printed.
 * ```
 */
export class JsonStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
  /** Batches land whole (journaled renames); OS file locks give cross-process OCC. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: true, persistent: true };
  /** The directory of this mode's files. */
  readonly path: string;

  /** Checks the options; the directory is created on first use. */
  constructor(options: JsonStorageOptions<M>) {
    const dir = checkDir(options);
    super("json", options, ["dir"], (mode) => new KvEngine(new JsonKvStore(`${dir}/${mode}`, mode)));
    this.path = `${dir}/${this.mode}`;
  }
}
