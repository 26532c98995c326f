/**
 * The listing index of the JSON backend: every session's id, user, entity,
 * name and times (content fields dropped), sorted by `createdAt` and by
 * `updatedAt`, so a page binary-searches to its cursor and reads only its
 * own files.
 *
 * It is built by one scan of the directory, then kept current from the
 * change log: a listing re-reads only the files named since, holding their
 * stripe locks shared (a writer notes a name before renaming the file and
 * holds the lock until after, so the re-read sees the write). A page's
 * files are read holding the batch lock shared; when one differs from its
 * index entry (by identity, size, mtime, version or times, so a session
 * deleted and re-created at version 1 is noticed), the entry is updated
 * from the file and the page is selected again: a page is never returned
 * short or with a session skipped.
 *
 * @module
 */
import type { KvRecord } from "../../engines/kv.ts";
import type { SessionKey } from "../../session/driver.ts";
import { CorruptRecordError, StorageError } from "../../session/errors.ts";
import { compareIds, isExpired, type ListQuery, matchesQuery } from "../../session/list.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import type { Session, SessionMode, SessionOf, SortField } from "../../session/types.ts";
import type { ChangeLog, LogPosition } from "./changes.ts";
import { fingerprint, isNotFound, lstatOrNull } from "./files.ts";
import type { DirLocks } from "./locks.ts";

/** A session file as read: the record and the `stat` of the file it came from. */
export interface ReadFile<M extends SessionMode> {
  /** The parsed file. */
  record: KvRecord<M>;
  /** Its `stat` (of the opened file). */
  info: Deno.FileInfo;
}

/** What the index needs from the store. */
export interface ListingSource<M extends SessionMode> {
  /** Reads and parses the session file `name` (without `.json`), or `null` when absent. */
  readFile(name: string): Promise<ReadFile<M> | null>;
  /** Runs `work` holding the batch lock shared, after recovering any journal left by a dead writer. */
  consistent<T>(work: () => Promise<T>): Promise<T>;
}

interface Entry {
  name: string;
  fp: string;
  session: Session;
}

/** How often a page is selected again before the listing gives up (each retry follows a concurrent write). */
const MAX_ATTEMPTS = 100;

/** Position of `session` against the key `(value, sessionId)` in ascending listing order. */
function compareKey(session: Session, field: SortField, value: number, sessionId: string): number {
  return session[field] - value || compareIds(session.sessionId, sessionId);
}

/** The first index of `sorted` whose key is above `(value, sessionId)`, or at or above it unless `strict`. */
function bound(sorted: Entry[], field: SortField, value: number, sessionId: string, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const diff = compareKey(sorted[mid]!.session, field, value, sessionId);
    if (diff < 0 || (strict && diff === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sameSession(a: Session, b: Session): boolean {
  return a.version === b.version && a.createdAt === b.createdAt && a.updatedAt === b.updatedAt;
}

/** The in-memory listing index of one mode directory. */
export class ListingIndex<M extends SessionMode> {
  readonly #dir: string;
  readonly #mode: M;
  readonly #locks: DirLocks;
  readonly #changes: ChangeLog;
  readonly #source: ListingSource<M>;
  #entries = new Map<string, Entry>();
  #sorted: Record<SortField, Entry[]> = { createdAt: [], updatedAt: [] };
  /** Full scans under way: while any runs, `#sorted` is left alone and rebuilt with one sort at the end. */
  #scans = 0;
  /** Where the index caught up with the change log; `null` before a full scan. */
  #position: LogPosition | null = null;

  /** An empty index of `dir`. */
  constructor(dir: string, mode: M, locks: DirLocks, changes: ChangeLog, source: ListingSource<M>) {
    this.#dir = dir;
    this.#mode = mode;
    this.#locks = locks;
    this.#changes = changes;
    this.#source = source;
  }

  /** Forgets everything: the next listing scans the directory. */
  reset(): void {
    this.#entries.clear();
    this.#sorted = { createdAt: [], updatedAt: [] };
    this.#position = null;
  }

  /** The first `query.limit + 1` sessions matching `query`, read from their files. */
  async page(query: ListQuery): Promise<SessionOf<M>[]> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await this.#refresh();
      const page = await this.#source.consistent(async () => {
        const out: SessionOf<M>[] = [];
        let changed = false;
        for (const entry of this.#select(query)) {
          const file = await this.#source.readFile(entry.name);
          if (file === null) this.#unindex(entry.name);
          else if (fingerprint(file.info) === entry.fp && sameSession(file.record.session, entry.session)) {
            out.push(file.record.session);
            continue;
          } else this.#index(entry.name, fingerprint(file.info), file.record.session);
          changed = true;
        }
        return changed ? null : out;
      });
      if (page !== null) return page;
    }
    throw new StorageError(`listing ${this.#dir} did not settle: ${MAX_ATTEMPTS} attempts each met a concurrent write`);
  }

  /** Ids and times of the first `query.limit + 1` matches, from the index alone. */
  async keys(query: ListQuery): Promise<SessionKey[]> {
    await this.#refresh();
    return await this.#source.consistent(() =>
      Promise.resolve(
        this.#select(query).map((e) => ({
          sessionId: e.session.sessionId,
          createdAt: e.session.createdAt,
          updatedAt: e.session.updatedAt,
        })),
      )
    );
  }

  /** Ids of indexed sessions with `updatedAt <= liveAfter`. */
  async expired(liveAfter: number): Promise<string[]> {
    await this.#refresh();
    return [...this.#entries.values()].filter((e) => isExpired(e.session, liveAfter)).map((e) => e.session.sessionId);
  }

  /** Catches up with the change log, or scans the whole directory when there is no position to resume from. */
  async #refresh(): Promise<void> {
    if (this.#position !== null) {
      const delta = await this.#changes.since(this.#position);
      if (delta !== null) {
        if (delta.names.length > 0) {
          await this.#locks.stripes(delta.names, false, () => this.#reload(delta.names));
        }
        this.#position = delta.position;
        return;
      }
    }
    this.#position = null; // until the scan succeeds: a file that failed to parse fails every listing
    // Every writer that noted a change before this point has renamed its file by then.
    const position = await this.#locks.allStripes(false, () => this.#changes.end());
    await this.#source.consistent(async () => {
      const names: string[] = [];
      try {
        for await (const entry of Deno.readDir(this.#dir)) {
          if (!entry.name.endsWith(".json") || entry.name.startsWith(".")) continue;
          if (entry.isSymlink) {
            throw new CorruptRecordError(`${this.#dir}/${entry.name}`, "is a symbolic link, which is not followed");
          }
          if (entry.isFile) names.push(entry.name.slice(0, -5));
        }
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      const present = new Set(names);
      for (const name of [...this.#entries.keys()]) if (!present.has(name)) this.#unindex(name);
      this.#scans++;
      try {
        await this.#reload(names);
      } finally {
        if (--this.#scans === 0) {
          const all = [...this.#entries.values()];
          for (const field of ["createdAt", "updatedAt"] as const) {
            this.#sorted[field] = all.slice().sort((a, b) =>
              compareKey(a.session, field, b.session[field], b.session.sessionId)
            );
          }
        }
      }
    });
    this.#position = position;
  }

  /** Re-reads the files `names` whose identity or stamp changed (64 at a time: one by one, round trips dominate). */
  async #reload(names: string[]): Promise<void> {
    for (let i = 0; i < names.length; i += 64) {
      await Promise.all(
        names.slice(i, i + 64).map(async (name) => {
          const info = await lstatOrNull(`${this.#dir}/${name}.json`);
          if (info !== null && !info.isSymlink && this.#entries.get(name)?.fp === fingerprint(info)) return;
          const file = await this.#source.readFile(name);
          if (file === null) this.#unindex(name);
          else this.#index(name, fingerprint(file.info), file.record.session);
        }),
      );
    }
  }

  #index(name: string, fp: string, session: Session): void {
    // Only what listing filters and sorts on is kept: the index stays small whatever the sessions hold.
    const meta = { ...session } as Record<string, unknown>;
    for (const field of MODE_FIELDS[this.#mode].objects) meta[field] = null;
    const entry: Entry = { name, fp, session: meta as unknown as Session };
    this.#unindex(name);
    this.#entries.set(name, entry);
    if (this.#scans > 0) return;
    for (const field of ["createdAt", "updatedAt"] as const) {
      const sorted = this.#sorted[field];
      sorted.splice(bound(sorted, field, session[field], session.sessionId, true), 0, entry);
    }
  }

  #unindex(name: string): void {
    const entry = this.#entries.get(name);
    if (entry === undefined) return;
    this.#entries.delete(name);
    if (this.#scans > 0) return;
    const { session } = entry;
    for (const field of ["createdAt", "updatedAt"] as const) {
      const sorted = this.#sorted[field];
      for (let i = bound(sorted, field, session[field], session.sessionId, false); i < sorted.length; i++) {
        if (sorted[i] === entry) {
          sorted.splice(i, 1);
          break;
        }
        if (compareKey(sorted[i]!.session, field, session[field], session.sessionId) !== 0) break;
      }
    }
  }

  /** The first `query.limit + 1` entries matching `query`: a binary search to the cursor, then a walk. */
  #select(query: ListQuery): Entry[] {
    const field = query.sortBy;
    const sorted = this.#sorted[field];
    const after = query.after;
    const out: Entry[] = [];
    const take = (entry: Entry) => {
      if (matchesQuery(entry.session, query, this.#mode)) out.push(entry);
    };
    if (query.order === "asc") {
      const start = after ? bound(sorted, field, after.value, after.sessionId, true) : 0;
      for (let i = start; i < sorted.length && out.length <= query.limit; i++) take(sorted[i]!);
    } else {
      const start = after ? bound(sorted, field, after.value, after.sessionId, false) - 1 : sorted.length - 1;
      for (let i = start; i >= 0 && out.length <= query.limit; i--) take(sorted[i]!);
    }
    return out;
  }
}
