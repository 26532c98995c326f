/**
 * The batch journal of the JSON backend: a change of several files (a batch
 * of sessions, a session with its replaced run log, a deletion) lands whole
 * or not at all.
 *
 * The writer prepares every temporary file, then, holding the files' stripe
 * locks and the batch lock exclusively, writes a journal to `.journal/`
 * naming each step with the fingerprint of the file it replaces and of the
 * file it puts there, applies the steps and removes the journal. A journal
 * is therefore only visible to someone holding the batch lock when its
 * writer died (or gave up on an error): every transaction looks for one
 * before reading, and recovers it under its stripe locks and the batch lock.
 * A step is rolled forward only while its file is still the one it
 * replaces; if any file has changed since (a journal from an older run of
 * the library, or files edited by hand), the journal is abandoned and
 * nothing of it is applied.
 *
 * @module
 */
import { CorruptRecordError } from "../../session/errors.ts";
import { parseStoredJson } from "../../session/stored.ts";
import {
  discardAfter,
  fingerprint,
  isNotFound,
  listDir,
  lstatOrNull,
  makeDir,
  readTextIfPresent,
  removeIfPresent,
  renameFile,
  writeAtomic,
} from "./files.ts";
import type { DirLocks } from "./locks.ts";

/** One step of a change: a rename of a prepared temporary file over `final`, or a removal of `final`. */
export type FileOp = { kind: "rename"; temp: string; final: string } | { kind: "remove"; final: string };

interface Entry {
  kind: "rename" | "remove";
  /** File names inside the mode directory. */
  temp?: string;
  final: string;
  /** Fingerprint of `final` before the step (`null`: absent). */
  before: string | null;
  /** Fingerprint of the temporary file (a rename keeps it). */
  after?: string;
}

/** The session file name a journal step touches (`s-x.json`, `s-x.runs.ndjson` → `s-x`). */
function sessionName(file: string): string {
  return file.replace(/(\.runs\.ndjson|\.json)$/, "");
}

async function stamp(path: string): Promise<string | null> {
  const info = await lstatOrNull(path);
  return info === null ? null : fingerprint(info);
}

/** The journal of one mode directory. */
export class Journal {
  readonly #dir: string;
  readonly #journals: string;
  readonly #locks: DirLocks;

  /** Journals under `dir/.journal/`. */
  constructor(dir: string, locks: DirLocks) {
    this.#dir = dir;
    this.#journals = `${dir}/.journal`;
    this.#locks = locks;
  }

  /**
   * Applies `ops` together. The caller holds the stripes of every file
   * touched; this takes the batch lock exclusively. Throws before the
   * journal is written: nothing changed. Throws after: the journal stays and
   * the next transaction rolls it forward.
   */
  async apply(ops: FileOp[]): Promise<void> {
    await this.#locks.batch(true, async () => {
      const entries: Entry[] = [];
      for (const op of ops) {
        const final = op.final.slice(op.final.lastIndexOf("/") + 1);
        const before = await stamp(op.final);
        if (op.kind === "remove") entries.push({ kind: "remove", final, before });
        else {
          const temp = op.temp.slice(op.temp.lastIndexOf("/") + 1);
          entries.push({ kind: "rename", temp, final, before, after: (await stamp(op.temp))! });
        }
      }
      const path = `${this.#journals}/${crypto.randomUUID()}.json`;
      try {
        await makeDir(this.#journals);
        await writeAtomic(this.#dir, path, JSON.stringify(entries));
      } catch (error) {
        // Not journaled: nothing was applied, and the prepared files go.
        await discardAfter(ops.flatMap((op) => op.kind === "rename" ? [op.temp] : []), error);
      }
      for (const op of ops) {
        if (op.kind === "rename") await renameFile(op.temp, op.final);
        else await removeIfPresent(op.final);
      }
      await removeIfPresent(path);
    });
  }

  /** Whether a journal is waiting to be recovered (meaningful to a holder of the batch lock). */
  async pending(): Promise<boolean> {
    try {
      for (const entry of await listDir(this.#journals)) if (entry.name.endsWith(".json")) return true;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return false;
  }

  /** Recovers every journal left by a dead writer. The caller holds no lock. */
  async recover(): Promise<void> {
    const names: string[] = [];
    try {
      for (const entry of await listDir(this.#journals)) if (entry.name.endsWith(".json")) names.push(entry.name);
    } catch (error) {
      if (!isNotFound(error)) throw error; // dropped meanwhile: nothing to recover
    }
    for (const name of names) {
      const path = `${this.#journals}/${name}`;
      const entries = await this.#read(path);
      if (entries === null) continue;
      await this.#locks.stripes(entries.map((e) => sessionName(e.final)), true, async () => {
        await this.#locks.batch(true, async () => {
          if (await this.#read(path) === null) return; // recovered by someone else meanwhile
          await this.#roll(entries);
          await removeIfPresent(path);
        });
      });
    }
  }

  async #read(path: string): Promise<Entry[] | null> {
    const text = await readTextIfPresent(path);
    if (text === null) return null;
    const entries = parseStoredJson(text, path, "a batch journal");
    if (!Array.isArray(entries)) throw new CorruptRecordError(path, "a batch journal is not a list of steps");
    return entries as Entry[];
  }

  /** Rolls the steps forward if every file is where the journal left it; else abandons them all. */
  async #roll(entries: Entry[]): Promise<void> {
    const todo: Entry[] = [];
    let stale = false;
    for (const entry of entries) {
      const now = await stamp(`${this.#dir}/${entry.final}`);
      const done = entry.kind === "remove" ? now === null : now === entry.after;
      if (done) continue;
      const ready = now === entry.before &&
        (entry.kind === "remove" || await stamp(`${this.#dir}/${entry.temp}`) === entry.after);
      if (ready) todo.push(entry);
      else stale = true;
    }
    if (stale) {
      for (const entry of entries) if (entry.temp) await removeIfPresent(`${this.#dir}/${entry.temp}`);
      return;
    }
    for (const entry of todo) {
      if (entry.kind === "rename") await renameFile(`${this.#dir}/${entry.temp}`, `${this.#dir}/${entry.final}`);
      else await removeIfPresent(`${this.#dir}/${entry.final}`);
    }
  }
}

/**
 * Recovers a journal of the previous layout (`<mode>/.batch-*`: a list of
 * `[temp, final]` paths, no fingerprints): a step is rolled forward only when
 * its temporary file holds a newer version than the file it would replace.
 */
export async function recoverLegacyJournal(path: string, locks: DirLocks): Promise<void> {
  const text = await readTextIfPresent(path);
  if (text === null) return;
  const renames = parseStoredJson(text, path, "a batch journal");
  if (!Array.isArray(renames)) throw new CorruptRecordError(path, "a batch journal is not a list of renames");
  const pairs = renames as [string, string][];
  const names = pairs.map(([, final]) => sessionName(final.slice(final.lastIndexOf("/") + 1)));
  await locks.stripes(names, true, async () => {
    await locks.batch(true, async () => {
      for (const [temp, final] of pairs) {
        const next = await versionOf(temp);
        if (next === null) continue;
        const current = await versionOf(final);
        if (current === null || current < next) await renameFile(temp, final);
        else await removeIfPresent(temp);
      }
      await removeIfPresent(path);
    });
  });
}

async function versionOf(path: string): Promise<number | null> {
  const text = await readTextIfPresent(path);
  if (text === null) return null;
  const record = parseStoredJson(text, path, "a session file") as { version?: unknown } | null;
  return typeof record?.version === "number" ? record.version : 0;
}
