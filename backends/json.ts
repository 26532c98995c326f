/**
 * {@linkcode JsonStorage}: one pretty-printed JSON file per session, so people
 * can open, diff and commit their agents' sessions.
 *
 * Layout under `dir`:
 *
 * - `<mode>/<name>.json`: the session, its fields as in TypeScript, plus
 *   `runCount` (how many lines of its run log count).
 * - `<mode>/<name>.runs.ndjson`: its run log, one `{ seq, createdAt, run }` a line.
 * - `<mode>/.locks/<n>.lock`: 64 lock files; a session's writes hold the one
 *   its id hashes to.
 * - `<mode>/.changes`: the names of changed files, one a line, appended by
 *   every write so that other storages on the directory refresh only those.
 *
 * File names encode the id so that no id can escape the directory or collide
 * with another on a case-insensitive file system: `s-` then the id with every
 * character other than `a-z`, `0-9`, `-` and `_` written as `%` and two
 * lowercase hex digits per UTF-8 byte (so `A` is `%41`, `/` is `%2f`, `.` is
 * `%2e`). An id whose name would pass 200 bytes is named `h-<sha-256 of the id>`;
 * the full id is always inside the file.
 *
 * Writes are atomic: a temporary file in the same directory, fsync, rename.
 * A process killed mid-write leaves at most a `.tmp-*` file, ignored by
 * reads and removed by `create()` once older than {@linkcode STALE_TEMP_MS}. `upsertMany` writes every temporary file first,
 * then a journal of the renames, then renames: a crash after the journal is
 * rolled forward by the next `create()`, so a batch lands whole or not at all.
 *
 * `expectedVersion` holds across processes: writers take an OS file lock
 * (`flock`), which the OS releases when its holder dies, so a crashed writer
 * never blocks others.
 *
 * Listing keeps an in-memory index of every session's id, user, entity, name
 * and times, kept sorted by `createdAt` and by `updatedAt`. It is built by one
 * scan of the directory (a `stat` and a read per file: the first listing of a
 * storage costs about 0.3–0.5 s at 10 000 sessions), then kept current from
 * the change log: a listing stats the log and re-reads only the files named
 * since. A page binary-searches to its cursor, walks the sorted index until
 * it has `limit + 1` matches and reads only the page's files. Files changed by
 * hand are picked up by `create()` or a new storage. A corrupt file, or one
 * holding another id than its name encodes (copied by hand), makes `read` and
 * every listing throw `CorruptRecordError` naming it: a session is never
 * silently left out or answered for another.
 *
 * This backend uses the `Deno` namespace (files, locks, crypto), so it runs in
 * Deno; the other backends are runtime-neutral.
 *
 * @module
 */
import { BaseSessionStorage } from "../session/base.ts";
import type { AppendContext, ChangeContext, RunQuery, SessionKey, WriteContext } from "../session/driver.ts";
import { ConflictError, CorruptRecordError, SessionNotFoundError, ValidationError } from "../session/errors.ts";
import { compareIds, isExpired, type ListQuery, matchesQuery } from "../session/list.ts";
import { MODE_FIELDS } from "../session/modes.ts";
import { parseStoredSession, type SessionContent } from "../session/parse.ts";
import { applyUpsert, checkWrite } from "../session/stamp.ts";
import type {
  AppendRunsResult,
  BaseStorageOptions,
  ImportResult,
  JsonObject,
  RunRecord,
  Session,
  SessionExport,
  SessionMode,
  SessionOf,
  SortField,
  StorageCapabilities,
} from "../session/types.ts";

/** Options of {@linkcode JsonStorage}. */
export interface JsonStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** The directory holding the sessions (created, owner-only, if missing). */
  dir: string;
}

/** Temporary files older than this are leftovers of a crashed writer and removed by `create()`. */
export const STALE_TEMP_MS = 60_000;
const LOCK_STRIPES = 64;
const MAX_LOG_BYTES = 16 * 1024 * 1024;
const MAX_NAME_BYTES = 200;

/** Encodes a session id as a file name (without extension); see the module doc. */
export async function encodeFileName(sessionId: string): Promise<string> {
  let name = "s-";
  for (const byte of new TextEncoder().encode(sessionId)) {
    const c = String.fromCharCode(byte);
    name += /[a-z0-9_-]/.test(c) ? c : "%" + byte.toString(16).padStart(2, "0");
  }
  if (name.length <= MAX_NAME_BYTES) return name;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sessionId));
  return "h-" + [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function stripeOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return (h >>> 0) % LOCK_STRIPES;
}

interface IndexEntry {
  ino: number | null;
  mtime: number;
  size: number;
  session: Session;
}

interface StoredFile {
  session: Session;
  runCount: number;
}

/** Position of `session` against the key `(value, sessionId)` in ascending listing order. */
function compareKey(session: Session, field: SortField, value: number, sessionId: string): number {
  return session[field] - value || compareIds(session.sessionId, sessionId);
}

/** The first index of `sorted` whose key is above `(value, sessionId)`, or at or above it unless `strict`. */
function bound(sorted: Session[], field: SortField, value: number, sessionId: string, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const diff = compareKey(sorted[mid]!, field, value, sessionId);
    if (diff < 0 || (strict && diff === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
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
  #index = new Map<string, IndexEntry>();
  /** The index's sessions in ascending order of each sort key (then id), so a page starts by binary search. */
  #sorted: Record<SortField, Session[]> = { createdAt: [], updatedAt: [] };
  /** Full scans under way: while any runs, `#sorted` is left alone and rebuilt with one sort at the end. */
  #scans = 0;
  /** Where the index caught up with the change log: its inode and byte offset; `null` before a full scan. */
  #logState: { ino: number | null; offset: number } | null = null;
  #mutex = new Map<number, Promise<void>>();

  /** Checks the options; the directory is created on first use. */
  constructor(options: JsonStorageOptions<M>) {
    super("json", options);
    if (typeof options?.dir !== "string" || options.dir === "") {
      throw new ValidationError([{ path: ["dir"], message: "expected a directory path" }]);
    }
    this.path = `${options.dir.replace(/\/+$/, "")}/${this.mode}`;
  }

  #file(name: string, suffix = ".json"): string {
    return `${this.path}/${name}${suffix}`;
  }

  /** Runs `work` holding the locks of `names` (in-process mutex, then the OS lock), in a fixed order. */
  async #locked<T>(names: string[], work: () => Promise<T>): Promise<T> {
    const stripes = [...new Set(names.map(stripeOf))].sort((a, b) => a - b);
    const releases: (() => void)[] = [];
    const files: Deno.FsFile[] = [];
    try {
      for (const stripe of stripes) {
        const previous = this.#mutex.get(stripe) ?? Promise.resolve();
        let release!: () => void;
        const mine = new Promise<void>((resolve) => release = resolve);
        const chained = previous.then(() => mine);
        this.#mutex.set(stripe, chained);
        await previous;
        releases.push(() => {
          release();
          if (this.#mutex.get(stripe) === chained) this.#mutex.delete(stripe);
        });
        const file = await Deno.open(`${this.path}/.locks/${stripe}.lock`, { create: true, write: true, mode: 0o600 });
        files.push(file);
        await file.lock(true);
      }
      return await work();
    } finally {
      for (const file of files.reverse()) file.close();
      for (const release of releases.reverse()) release();
    }
  }

  async #readFile(name: string): Promise<StoredFile | null> {
    const path = this.#file(name);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    return await this.#parseNamed(text, path, name);
  }

  /** Parses the file `name` and checks that it holds the session its name encodes (not a file copied by hand). */
  async #parseNamed(text: string, path: string, name: string): Promise<StoredFile> {
    const file = this.#parse(text, path);
    const expected = await encodeFileName(file.session.sessionId);
    if (expected !== name) {
      throw new CorruptRecordError(
        path,
        `holds session ${JSON.stringify(file.session.sessionId)}, whose file is ${expected}.json`,
        { backend: this.backend },
      );
    }
    return file;
  }

  #parse(text: string, path: string): StoredFile {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(text);
    } catch (error) {
      throw new CorruptRecordError(path, "not valid JSON", { cause: error, backend: this.backend });
    }
    if (typeof record !== "object" || record === null) {
      throw new CorruptRecordError(path, "not a JSON object", { backend: this.backend });
    }
    const { runCount = 0, ...fields } = record;
    if (!Number.isSafeInteger(runCount) || (runCount as number) < 0) {
      throw new CorruptRecordError(path, "runCount is not a count", { backend: this.backend });
    }
    return { session: parseStoredSession(this.mode, fields, path), runCount: runCount as number };
  }

  /** Writes `text` to `path` atomically: temporary file, fsync, rename. */
  async #writeAtomic(path: string, text: string): Promise<void> {
    const temp = await this.#writeTemp(text);
    await Deno.rename(temp, path);
  }

  async #writeTemp(text: string): Promise<string> {
    const temp = `${this.path}/.tmp-${crypto.randomUUID()}`;
    const file = await Deno.open(temp, { create: true, createNew: true, write: true, mode: 0o600 });
    try {
      await file.write(new TextEncoder().encode(text));
      await file.sync();
    } finally {
      file.close();
    }
    return temp;
  }

  #render(session: Session, runCount: number): string {
    const ordered: Record<string, unknown> = {};
    for (const key of MODE_FIELDS[this.mode].all) ordered[key] = (session as unknown as Record<string, unknown>)[key];
    ordered.runCount = runCount;
    try {
      return JSON.stringify(ordered, null, 2) + "\n";
    } catch (error) {
      // Indenting recurses and overflows near 10 000 levels of nesting; such a file is written compact.
      if (error instanceof RangeError) return JSON.stringify(ordered) + "\n";
      throw error;
    }
  }

  /** Creates the directories, rolls interrupted batches forward and removes stale temporary files. */
  protected async doCreate(): Promise<void> {
    this.#logState = null; // the next listing rescans, picking up files changed by hand
    await Deno.mkdir(`${this.path}/.locks`, { recursive: true, mode: 0o700 });
    for await (const entry of Deno.readDir(this.path)) {
      if (entry.name.startsWith(".batch-")) await this.#rollForward(`${this.path}/${entry.name}`);
    }
    const now = Date.now();
    for await (const entry of Deno.readDir(this.path)) {
      if (!entry.name.startsWith(".tmp-")) continue;
      const info = await Deno.stat(`${this.path}/${entry.name}`).catch(() => null);
      if (info?.mtime && now - info.mtime.getTime() > STALE_TEMP_MS) {
        await Deno.remove(`${this.path}/${entry.name}`).catch(() => {});
      }
    }
  }

  async #rollForward(journal: string): Promise<void> {
    let renames: [string, string][];
    try {
      renames = JSON.parse(await Deno.readTextFile(journal));
    } catch (error) {
      if (isNotFound(error)) return;
      // A journal is renamed into place whole, so a broken one was never committed: drop it.
      await Deno.remove(journal).catch(() => {});
      return;
    }
    await this.#locked(renames.map(([, final]) => final.slice(final.lastIndexOf("/") + 1, -5)), async () => {
      for (const [temp, final] of renames) {
        await Deno.rename(temp, final).catch((error) => {
          if (!isNotFound(error)) throw error;
        });
      }
      await Deno.remove(journal).catch(() => {});
      await this.#note(renames.map(([, final]) => final.slice(final.lastIndexOf("/") + 1, -5)));
    });
  }

  /** Reads one file. */
  protected async doRead(sessionId: string): Promise<SessionOf<M> | null> {
    return (await this.#readFile(await encodeFileName(sessionId)))?.session as SessionOf<M> | null ?? null;
  }

  #live(file: StoredFile | null, liveAfter: number | null): StoredFile | null {
    return file && !isExpired(file.session, liveAfter) ? file : null;
  }

  /** Under the batch's locks: read, check and stamp everything, then write (journaled when more than one file). */
  protected async doWrite(batch: SessionContent<M>[], context: WriteContext): Promise<SessionOf<M>[]> {
    const names = await Promise.all(batch.map((c) => encodeFileName(c.sessionId)));
    return await this.#locked(names, async () => {
      const staged = new Map<string, StoredFile | null>();
      const stored: SessionOf<M>[] = [];
      for (const [i, content] of batch.entries()) {
        const name = names[i]!;
        if (!staged.has(name)) staged.set(name, this.#live(await this.#readFile(name), context.liveAfter));
        const previous = staged.get(name)!;
        const next = applyUpsert(
          previous?.session as SessionOf<M> | null ?? null,
          content,
          context.expectedVersion,
          context.now,
        );
        staged.set(name, { session: next, runCount: previous?.runCount ?? 0 });
        stored.push(next);
      }
      const fresh = [...staged].filter(([, file]) => file!.session.version === 1).map(([name]) => name);
      await this.#commit([...staged].map(([name, file]) => [name, this.#render(file!.session, file!.runCount)]));
      // A session created afresh starts with an empty run log.
      for (const name of fresh) await Deno.remove(this.#file(name, ".runs.ndjson")).catch(() => {});
      return stored;
    });
  }

  /** Writes files atomically; several go through a journal so they land together. */
  async #commit(files: [string, string][]): Promise<void> {
    if (files.length === 1) await this.#writeAtomic(this.#file(files[0]![0]), files[0]![1]);
    else if (files.length > 1) {
      const renames: [string, string][] = [];
      for (const [name, text] of files) renames.push([await this.#writeTemp(text), this.#file(name)]);
      const journal = `${this.path}/.batch-${crypto.randomUUID()}`;
      await this.#writeAtomic(journal, JSON.stringify(renames));
      for (const [temp, final] of renames) await Deno.rename(temp, final);
      await Deno.remove(journal);
    }
    await this.#note(files.map(([name]) => name));
  }

  async #owned(name: string, context: { userId?: string; liveAfter: number | null }): Promise<StoredFile | null> {
    const file = this.#live(await this.#readFile(name), context.liveAfter);
    if (file === null) return null;
    return context.userId !== undefined && file.session.userId !== context.userId ? null : file;
  }

  async #removeSession(name: string): Promise<void> {
    await Deno.remove(this.#file(name));
    await Deno.remove(this.#file(name, ".runs.ndjson")).catch(() => {});
    await this.#note([name]);
  }

  /** Removes the file (and its run log) under its lock. */
  protected async doDelete(sessionId: string, context: ChangeContext): Promise<boolean> {
    const name = await encodeFileName(sessionId);
    return await this.#locked([name], async () => {
      if (await this.#owned(name, context) === null) return false;
      await this.#removeSession(name);
      return true;
    });
  }

  /** Rewrites the file with the new name under its lock. */
  protected async doRename(
    sessionId: string,
    sessionName: string | null,
    context: ChangeContext,
  ): Promise<SessionOf<M> | null> {
    const name = await encodeFileName(sessionId);
    return await this.#locked([name], async () => {
      const file = await this.#owned(name, context);
      if (file === null) return null;
      const next = { ...file.session, sessionName, updatedAt: context.now, version: file.session.version + 1 };
      await this.#commit([[name, this.#render(next, file.runCount)]]);
      return next as SessionOf<M>;
    });
  }

  get #logPath(): string {
    return `${this.path}/.changes`;
  }

  /**
   * Appends the names of changed session files to the change log, which
   * other storages on this directory read to refresh only those entries.
   * Writers hold a shared lock while appending; rotating the log (past
   * 16 MiB) takes it exclusively, and readers rescan when its inode changes.
   */
  async #note(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const lock = await Deno.open(`${this.path}/.locks/changes.lock`, { create: true, write: true, mode: 0o600 });
    let size = 0;
    try {
      await lock.lock(false);
      const log = await Deno.open(this.#logPath, { create: true, append: true, mode: 0o600 });
      try {
        await log.write(new TextEncoder().encode(names.join("\n") + "\n"));
        size = (await log.stat()).size;
      } finally {
        log.close();
      }
    } finally {
      lock.close();
    }
    if (size > MAX_LOG_BYTES) {
      const rotation = await Deno.open(`${this.path}/.locks/changes.lock`, { create: true, write: true, mode: 0o600 });
      try {
        await rotation.lock(true);
        await Deno.remove(this.#logPath).catch(() => {});
      } finally {
        rotation.close();
      }
    }
  }

  /**
   * Brings the in-memory index up to date: after a full scan, only the files
   * named in the change log since then are looked at again.
   */
  async #refreshIndex(): Promise<void> {
    let log: Deno.FileInfo | null = null;
    try {
      log = await Deno.stat(this.#logPath);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const state = this.#logState;
    if (state && log === null && state.ino === null) return;
    if (state && log && log.ino === state.ino && log.size >= state.offset) {
      if (log.size === state.offset) return;
      const file = await Deno.open(this.#logPath, { read: true });
      const bytes = new Uint8Array(log.size - state.offset);
      try {
        await file.seek(state.offset, Deno.SeekMode.Start);
        for (let read = 0; read < bytes.length;) {
          const n = await file.read(bytes.subarray(read));
          if (n === null) break;
          read += n;
        }
      } finally {
        file.close();
      }
      const text = new TextDecoder().decode(bytes);
      const end = text.lastIndexOf("\n");
      if (end < 0) return;
      const names = [...new Set(text.slice(0, end).split("\n").filter((n) => n !== ""))];
      for (let i = 0; i < names.length; i += 64) {
        await Promise.all(names.slice(i, i + 64).map((name) => this.#refreshEntry(`${name}.json`)));
      }
      state.offset += end + 1; // file names are ASCII: characters are bytes
      return;
    }
    // Where the log stands before the scan: what is noted during it is looked at again next time.
    const scanned = { ino: log?.ino ?? null, offset: log?.size ?? 0 };
    this.#logState = null; // until the scan succeeds: a file that failed to parse fails every listing
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.path)) {
        if (entry.isFile && entry.name.endsWith(".json") && !entry.name.startsWith(".")) names.push(entry.name);
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const present = new Set(names);
    for (const name of this.#index.keys()) if (!present.has(name)) this.#unindex(name);
    this.#scans++;
    try {
      // Stats run 64 at a time: one by one, the round trips to the file system dominate.
      for (let i = 0; i < names.length; i += 64) {
        await Promise.all(names.slice(i, i + 64).map((name) => this.#refreshEntry(name)));
      }
    } finally {
      if (--this.#scans === 0) {
        const all = [...this.#index.values()].map((e) => e.session);
        for (const field of ["createdAt", "updatedAt"] as const) {
          this.#sorted[field] = all.slice().sort((a, b) => compareKey(a, field, b[field], b.sessionId));
        }
      }
    }
    this.#logState = scanned;
  }

  async #refreshEntry(name: string): Promise<void> {
    const path = `${this.path}/${name}`;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (isNotFound(error)) return void this.#unindex(name);
      throw error;
    }
    const known = this.#index.get(name);
    const mtime = info.mtime?.getTime() ?? 0;
    if (known && known.ino === info.ino && known.mtime === mtime && known.size === info.size) return;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (isNotFound(error)) return void this.#unindex(name);
      throw error;
    }
    // Only what listing filters and sorts on is kept: the index stays small whatever the sessions hold.
    const { session } = await this.#parseNamed(text, path, name.slice(0, -5));
    const meta = { ...session } as Record<string, unknown>;
    for (const field of MODE_FIELDS[this.mode].objects) meta[field] = null;
    this.#unindex(name);
    this.#index.set(name, { ino: info.ino, mtime, size: info.size, session: meta as unknown as Session });
    if (this.#scans > 0) return;
    for (const field of ["createdAt", "updatedAt"] as const) {
      const sorted = this.#sorted[field];
      sorted.splice(bound(sorted, field, session[field], session.sessionId, true), 0, meta as unknown as Session);
    }
  }

  #unindex(name: string): void {
    const entry = this.#index.get(name);
    if (entry === undefined) return;
    this.#index.delete(name);
    if (this.#scans > 0) return;
    const { session } = entry;
    for (const field of ["createdAt", "updatedAt"] as const) {
      const sorted = this.#sorted[field];
      // Two files may hold one id (a file copied by hand): find this very entry among equal keys.
      for (let i = bound(sorted, field, session[field], session.sessionId, false); i < sorted.length; i++) {
        if (sorted[i] === session) {
          sorted.splice(i, 1);
          break;
        }
        if (compareKey(sorted[i]!, field, session[field], session.sessionId) !== 0) break;
      }
    }
  }

  /**
   * The first `query.limit + 1` index entries matching `query`, in order:
   * a binary search to the cursor, then a walk that stops when the page is full.
   */
  #select(query: ListQuery): Session[] {
    const field = query.sortBy;
    const sorted = this.#sorted[field];
    const after = query.after;
    const out: Session[] = [];
    if (query.order === "asc") {
      const start = after ? bound(sorted, field, after.value, after.sessionId, true) : 0;
      for (let i = start; i < sorted.length && out.length <= query.limit; i++) {
        if (matchesQuery(sorted[i]!, query, this.mode)) out.push(sorted[i]!);
      }
    } else {
      const start = after ? bound(sorted, field, after.value, after.sessionId, false) - 1 : sorted.length - 1;
      for (let i = start; i >= 0 && out.length <= query.limit; i--) {
        if (matchesQuery(sorted[i]!, query, this.mode)) out.push(sorted[i]!);
      }
    }
    return out;
  }

  /** Walks the sorted index to the page's entries, then reads only the page's files. */
  protected async doList(query: ListQuery): Promise<SessionOf<M>[]> {
    for (let attempt = 0;; attempt++) {
      await this.#refreshIndex();
      const matches = this.#select(query);
      const page: SessionOf<M>[] = [];
      for (const meta of matches) {
        const file = await this.#readFile(await encodeFileName(meta.sessionId));
        if (file) page.push(file.session as SessionOf<M>);
      }
      // A file written by someone else since the index was refreshed: refresh and list again.
      const changed = page.length !== matches.length || page.some((s, i) => s.version !== matches[i]!.version);
      if (!changed || attempt === 2) return page;
      this.#logState = null;
    }
  }

  /** Ids and times straight from the index, without reading session files. */
  protected override async doListKeys(query: ListQuery): Promise<SessionKey[]> {
    await this.#refreshIndex();
    return this.#select(query);
  }

  async #readRuns(name: string, runCount: number): Promise<RunRecord[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#file(name, ".runs.ndjson"));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    // A line torn by a crash does not parse and is skipped; a run appended by a writer that died
    // before committing its session has a seq beyond runCount, and a later append replaces it.
    const bySeq = new Map<number, RunRecord>();
    for (const line of text.split("\n")) {
      if (line === "") continue;
      let record: RunRecord;
      try {
        record = JSON.parse(line);
      } catch {
        continue;
      }
      if (Number.isSafeInteger(record?.seq) && record.seq >= 1 && record.seq <= runCount) bySeq.set(record.seq, record);
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  async #appendLines(name: string, records: RunRecord[]): Promise<void> {
    const path = this.#file(name, ".runs.ndjson");
    const file = await Deno.open(path, { create: true, read: true, append: true, mode: 0o600 });
    try {
      const size = (await file.stat()).size;
      let prefix = "";
      if (size > 0) {
        // Start on a fresh line if a crash left the last one torn.
        const last = new Uint8Array(1);
        const reader = await Deno.open(path, { read: true });
        try {
          await reader.seek(size - 1, Deno.SeekMode.Start);
          await reader.read(last);
        } finally {
          reader.close();
        }
        if (last[0] !== 10) prefix = "\n";
      }
      await file.write(new TextEncoder().encode(prefix + records.map((r) => JSON.stringify(r) + "\n").join("")));
      await file.sync();
    } finally {
      file.close();
    }
  }

  /** Under the session's lock: append the runs (fsync), then commit the session with the new `runCount`. */
  protected override async doAppendRuns(
    sessionId: string,
    runs: JsonObject[],
    context: AppendContext,
  ): Promise<AppendRunsResult> {
    const name = await encodeFileName(sessionId);
    return await this.#locked([name], async () => {
      const file = this.#live(await this.#readFile(name), context.liveAfter);
      if (file === null) throw new SessionNotFoundError(sessionId, { backend: this.backend });
      checkWrite(sessionId, file.session, context.userId, context.expectedVersion);
      const records = runs.map((run, i) => ({ seq: file.runCount + i + 1, createdAt: context.now, run }));
      await this.#appendLines(name, records);
      const runCount = file.runCount + runs.length;
      const version = file.session.version + 1;
      await this.#commit([[name, this.#render({ ...file.session, updatedAt: context.now, version }, runCount)]]);
      return { version, runCount };
    });
  }

  /** Reads the session's run log and slices it. */
  protected override async doGetRuns(sessionId: string, query: RunQuery): Promise<RunRecord[]> {
    const name = await encodeFileName(sessionId);
    const file = await this.#owned(name, query);
    if (file === null) return [];
    const runs = await this.#readRuns(name, file.runCount);
    const after = query.afterSeq;
    const rows = query.order === "asc"
      ? runs.filter((r) => after === null || r.seq > after)
      : runs.filter((r) => after === null || r.seq < after).reverse();
    return rows.slice(0, query.limit + 1);
  }

  /** Under the locks of every id: check conflicts, then write sessions and run logs. */
  protected override async doImport(
    entries: SessionExport<SessionOf<M>>[],
    onConflict: "skip" | "overwrite" | "fail",
    liveAfter: number | null,
  ): Promise<ImportResult> {
    const names = await Promise.all(entries.map((e) => encodeFileName(e.session.sessionId)));
    return await this.#locked(names, async () => {
      const todo: number[] = [];
      for (const [i, entry] of entries.entries()) {
        const existing = this.#live(await this.#readFile(names[i]!), liveAfter);
        if (existing && onConflict === "fail") {
          throw new ConflictError(entry.session.sessionId, 0, existing.session.version, { backend: this.backend });
        }
        if (!existing || onConflict === "overwrite") todo.push(i);
      }
      for (const i of todo) {
        const path = this.#file(names[i]!, ".runs.ndjson");
        const runs = entries[i]!.runs;
        if (runs.length === 0) await Deno.remove(path).catch(() => {});
        else await this.#writeAtomic(path, runs.map((r) => JSON.stringify(r) + "\n").join(""));
      }
      await this.#commit(todo.map((i) => [names[i]!, this.#render(entries[i]!.session, entries[i]!.runs.length)]));
      return { imported: todo.length, skipped: entries.length - todo.length };
    });
  }

  /** Deletes expired files (rechecked under each lock). */
  protected async doPurge(liveAfter: number): Promise<number> {
    await this.#refreshIndex();
    let count = 0;
    for (const [fileName, entry] of this.#index) {
      if (!isExpired(entry.session, liveAfter)) continue;
      const name = fileName.slice(0, -5);
      count += await this.#locked([name], async () => {
        const file = await this.#readFile(name);
        if (file === null || !isExpired(file.session, liveAfter)) return 0;
        await this.#removeSession(name);
        return 1;
      });
    }
    return count;
  }

  /** Removes `dir/<mode>/` and nothing else. */
  protected async doDrop(): Promise<void> {
    await Deno.remove(this.path, { recursive: true }).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
    this.#index.clear();
    this.#sorted = { createdAt: [], updatedAt: [] };
    this.#logState = null;
  }

  /** Nothing stays open between operations. */
  protected doClose(): Promise<void> {
    return Promise.resolve();
  }
}
