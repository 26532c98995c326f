/**
 * The {@linkcode KvStore} of the JSON backend: one transaction holds the
 * stripe locks of its sessions (read-write) or the batch lock shared
 * (read-only), first recovering any journal a dead writer left; its writes
 * are staged and committed at the end: run-log appends (fsynced, not yet
 * counted), then the change-log note, then the commit point, one atomic
 * rename (or removal) or a journaled set of them.
 *
 * @module
 */
import type { KvRecord, KvStore, KvTransaction } from "../../engines/kv.ts";
import type { SessionKey, StoredRun } from "../../session/driver.ts";
import type { ListQuery } from "../../session/list.ts";
import type { SessionMode, SessionOf } from "../../session/types.ts";
import { ChangeLog } from "./changes.ts";
import { discardAfter, isNotFound, lstatOrNull, readNoFollow, removeIfPresent, writeTemp } from "./files.ts";
import { type FileOp, Journal, recoverLegacyJournal } from "./journal.ts";
import { ListingIndex, type ReadFile } from "./listing.ts";
import { DirLocks } from "./locks.ts";
import { encodeFileName } from "./names.ts";
import { parseSessionFile, renderSessionFile } from "./record.ts";
import { appendRuns, readRuns, renderRuns } from "./runs.ts";

/** Temporary files older than this are leftovers of a crashed writer and removed by `create()`. */
export const STALE_TEMP_MS = 60_000;

const RETRY = Symbol("retry");

type RunChange = { kind: "append"; from: number; runs: StoredRun[] } | { kind: "replace"; runs: StoredRun[] };

/** What a transaction changes for one session file name. */
interface Staged<M extends SessionMode> {
  /** The record to store, `null` to delete, `undefined` when untouched. */
  record?: KvRecord<M> | null;
  runs?: RunChange;
}

/** Sessions of one mode, one JSON file each, under `dir`. */
export class JsonKvStore<M extends SessionMode> implements KvStore<M> {
  readonly #dir: string;
  readonly #mode: M;
  readonly #locks: DirLocks;
  readonly #changes: ChangeLog;
  readonly #journal: Journal;
  readonly #listing: ListingIndex<M>;

  /** A store over `dir` (the mode's directory). */
  constructor(dir: string, mode: M) {
    this.#dir = dir;
    this.#mode = mode;
    this.#locks = new DirLocks(dir);
    this.#changes = new ChangeLog(dir, this.#locks);
    this.#journal = new Journal(dir, this.#locks);
    this.#listing = new ListingIndex(dir, mode, this.#locks, this.#changes, {
      readFile: (name) => this.#readFile(name),
      consistent: (work) => this.#consistent(work),
    });
  }

  /** Creates the directories, recovers interrupted batches and removes stale temporary files. */
  async create(): Promise<void> {
    this.#listing.reset(); // the next listing rescans, picking up files changed by hand
    await Deno.mkdir(`${this.#dir}/.locks`, { recursive: true, mode: 0o700 });
    await Deno.mkdir(`${this.#dir}/.journal`, { recursive: true, mode: 0o700 });
    const now = Date.now();
    for await (const entry of Deno.readDir(this.#dir)) {
      const path = `${this.#dir}/${entry.name}`;
      if (entry.name.startsWith(".batch-")) await recoverLegacyJournal(path, this.#locks);
    }
    if (await this.#journal.pending()) await this.#journal.recover();
    for await (const entry of Deno.readDir(this.#dir)) {
      if (!entry.name.startsWith(".tmp-")) continue;
      const info = await lstatOrNull(`${this.#dir}/${entry.name}`);
      if (info?.mtime && now - info.mtime.getTime() > STALE_TEMP_MS) {
        await removeIfPresent(`${this.#dir}/${entry.name}`);
      }
    }
  }

  async #readFile(name: string): Promise<ReadFile<M> | null> {
    const path = `${this.#dir}/${name}.json`;
    const read = await readNoFollow(path);
    if (read === null) return null;
    return { record: await parseSessionFile(this.#mode, read.text, path, name), info: read.info };
  }

  /** Runs `work` holding the batch lock shared, once no journal of a dead writer is left. */
  async #consistent<T>(work: () => Promise<T>): Promise<T> {
    for (;;) {
      const result = await this.#locks.batch(false, async () => await this.#journal.pending() ? RETRY : await work());
      if (result !== RETRY) return result as T;
      await this.#journal.recover();
    }
  }

  /** Read-only: under the batch lock shared. Read-write: under the sessions' stripe locks, committed at the end. */
  async transact<T>(
    mode: "readonly" | "readwrite",
    ids: readonly string[],
    work: (tx: KvTransaction<M>) => Promise<T>,
  ): Promise<T> {
    if (mode === "readonly") return await this.#consistent(() => work(this.#transaction(new Map())));
    const names = await Promise.all(ids.map(encodeFileName));
    for (;;) {
      const result = await this.#locks.stripes(names, true, async () => {
        if (await this.#locks.batch(false, () => this.#journal.pending())) return RETRY;
        const staged = new Map<string, Staged<M>>();
        const result = await work(this.#transaction(staged));
        await this.#commit(staged);
        return result;
      });
      if (result !== RETRY) return result as T;
      await this.#journal.recover();
    }
  }

  #transaction(staged: Map<string, Staged<M>>): KvTransaction<M> {
    const stage = async (id: string) => {
      const name = await encodeFileName(id);
      if (!staged.has(name)) staged.set(name, {});
      return staged.get(name)!;
    };
    return {
      get: async (id) => {
        const name = await encodeFileName(id);
        const record = staged.get(name)?.record;
        return record !== undefined ? record : (await this.#readFile(name))?.record ?? null;
      },
      put: async (record) => void ((await stage(record.session.sessionId)).record = record),
      delete: async (id) => void Object.assign(await stage(id), { record: null, runs: { kind: "replace", runs: [] } }),
      // The committed log: the engine reads runs only in read-only transactions.
      runs: async (record, range) => {
        const log = await readRuns(await this.#logPath(record.session.sessionId), record.runCount);
        const { seqAbove, seqBelow } = range;
        const rows = log.filter((r) =>
          (seqAbove === null || r.seq > seqAbove) && (seqBelow === null || r.seq < seqBelow)
        );
        return (range.order === "asc" ? rows : rows.reverse()).slice(0, range.limit);
      },
      runByKey: async (record, key) => {
        const log = await readRuns(await this.#logPath(record.session.sessionId), record.runCount);
        return log.find((r) => r.key === key) ?? null;
      },
      appendRuns: async (id, keep, runs) => {
        const entry = await stage(id);
        const previous = entry.runs;
        if (previous !== undefined) {
          const from = "from" in previous ? previous.from : 0;
          entry.runs = { ...previous, runs: [...previous.runs.slice(0, keep - from), ...runs] };
          return;
        }
        const committed = (await this.#readFile(await encodeFileName(id)))?.record?.runCount ?? 0;
        // Cutting committed runs (an edit) rewrites the log, renamed together with the session file.
        entry.runs = keep >= committed
          ? { kind: "append", from: keep, runs }
          : { kind: "replace", runs: [...await readRuns(await this.#logPath(id), keep), ...runs] };
      },
      replaceRuns: async (id, runs) => void ((await stage(id)).runs = { kind: "replace", runs }),
    };
  }

  async #logPath(sessionId: string): Promise<string> {
    return `${this.#dir}/${await encodeFileName(sessionId)}.runs.ndjson`;
  }

  /**
   * Appends runs (not yet counted), notes the names in the change log, then
   * commits: one rename or removal, or several through the journal. An error
   * before the commit point leaves nothing changed (temporary files removed).
   */
  async #commit(staged: Map<string, Staged<M>>): Promise<void> {
    const ops: FileOp[] = [];
    const temps: string[] = [];
    const noted: string[] = [];
    try {
      for (const [name, { record, runs }] of staged) {
        if (record === undefined && runs === undefined) continue;
        noted.push(name);
        const file = `${this.#dir}/${name}.json`;
        const log = `${this.#dir}/${name}.runs.ndjson`;
        if (record === null) ops.push({ kind: "remove", final: file });
        if (runs?.kind === "append") await appendRuns(log, runs.from, runs.runs);
        else if (runs?.kind === "replace" && runs.runs.length > 0) {
          const temp = await writeTemp(this.#dir, renderRuns(runs.runs));
          temps.push(temp);
          ops.push({ kind: "rename", temp, final: log });
        } else if (runs?.kind === "replace" && await lstatOrNull(log) !== null) {
          ops.push({ kind: "remove", final: log });
        }
        if (record) {
          const temp = await writeTemp(this.#dir, renderSessionFile(this.#mode, record));
          temps.push(temp);
          ops.push({ kind: "rename", temp, final: file });
        }
      }
      await this.#changes.note(noted);
      if (ops.length === 1) {
        const op = ops[0]!;
        if (op.kind === "rename") await Deno.rename(op.temp, op.final);
        else await removeIfPresent(op.final);
        return;
      }
    } catch (error) {
      await discardAfter(temps, error);
    }
    if (ops.length > 1) await this.#journal.apply(ops);
  }

  /** A page through the listing index, read from the files. */
  scan(query: ListQuery): Promise<SessionOf<M>[]> {
    return this.#listing.page(query);
  }

  /** Ids and times of a page, from the listing index. */
  scanKeys(query: ListQuery): Promise<SessionKey[]> {
    return this.#listing.keys(query);
  }

  /** Candidates for purge, from the listing index. */
  expired(liveAfter: number): Promise<string[]> {
    return this.#listing.expired(liveAfter);
  }

  /** Removes the mode's directory and nothing else. */
  async drop(): Promise<void> {
    try {
      await Deno.remove(this.#dir, { recursive: true });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.#listing.reset();
  }

  /** Nothing stays open between operations. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
