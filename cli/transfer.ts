/**
 * Moving sessions: `export` (NDJSON), `import` and `copy` between any two
 * storages. Sessions keep their `createdAt`, `updatedAt`, `version` and runs.
 *
 * The NDJSON format: a header line `{"agentstate":"export","version":1,"mode":…}`,
 * then one line per session: `{"session": {…}, "runs": [{seq, createdAt, run}, …]}`.
 */
import {
  MemoryStorage,
  type RunRecord,
  type Session,
  type SessionExport,
  type SessionMode,
  type StorageOf,
  ValidationError,
} from "../mod.ts";
import { type FileHandle, lstat, mkdtemp, open as openFile, rename, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modeOf, onConflictOf, open, parse, print, str, TTL_OPTION, ttlOf } from "./args.ts";
import { isNotFound, readInput, writeAll, writeStderr, writeStdout } from "./io.ts";
import { UsageError } from "./errors.ts";
import { readLines } from "./lines.ts";
import { sessionPages } from "./pages.ts";
import { Progress } from "./progress.ts";
import { printable } from "./text.ts";

/** Sessions per `importSessions` call and per listing page. */
export const BATCH = 500;

/** Feeds entries to `importSessions` in batches, counting what was imported and skipped. */
export class BatchImporter {
  /** Sessions written. */
  imported = 0;
  /** Sessions left alone because they existed. */
  skipped = 0;
  #batch: SessionExport<Session>[] = [];
  #ids = new Set<string>();
  #storage: StorageOf<SessionMode>;
  #onConflict: "skip" | "overwrite" | "fail";
  #progress: Progress;

  /** Imports into `storage` with `onConflict`, reporting to `progress`. */
  constructor(storage: StorageOf<SessionMode>, onConflict: "skip" | "overwrite" | "fail", progress: Progress) {
    this.#storage = storage;
    this.#onConflict = onConflict;
    this.#progress = progress;
  }

  /** Queues an entry; imports a batch when it is full or already holds the same id (a later entry wins). */
  async add(entry: SessionExport<Session>): Promise<void> {
    if (this.#ids.has(entry.session.sessionId)) await this.flush();
    this.#batch.push(entry);
    this.#ids.add(entry.session.sessionId);
    if (this.#batch.length >= BATCH) await this.flush();
  }

  /** Imports what is queued. */
  async flush(): Promise<void> {
    if (this.#batch.length === 0) return;
    const result = await this.#storage.importSessions(this.#batch as never, { onConflict: this.#onConflict });
    this.imported += result.imported;
    this.skipped += result.skipped;
    this.#progress.add(this.#batch.length);
    this.#batch = [];
    this.#ids.clear();
  }
}

/** Every session of `storage`, oldest first, a page at a time, each with its whole run log (read in pages). */
export async function* readAll(storage: StorageOf<SessionMode>): AsyncGenerator<SessionExport<Session>> {
  for await (const sessions of sessionPages(storage, "createdAt", BATCH)) {
    for (const session of sessions) {
      const runs: RunRecord[] = [];
      let runCursor: string | null = null;
      do {
        const runPage: { runs: RunRecord[]; nextCursor: string | null } = await storage.getRuns(session.sessionId, {
          limit: 1000,
          cursor: runCursor,
        });
        runs.push(...runPage.runs);
        runCursor = runPage.nextCursor;
      } while (runCursor !== null);
      yield { session, runs };
    }
  }
}

/** Non-empty lines of a file (or stdin for `-`) with their 1-based numbers; invalid UTF-8 is an error. */
async function* lines(path: string): AsyncGenerator<[number, string]> {
  yield* readLines(readInput(path));
}

/** The header line of an export. */
interface Header {
  agentstate: "export";
  version: 1;
  mode: SessionMode;
}

/** Reads the header, if the first line is one; returns it and the remaining lines. */
async function openExport(path: string): Promise<{ header: Header | null; rest: AsyncGenerator<[number, string]> }> {
  const all = lines(path);
  const first = await all.next();
  if (first.done) return { header: null, rest: all };
  const [number, line] = first.value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch { /* not a header: reported as a bad line by the caller */ }
  if (typeof parsed === "object" && parsed !== null && "agentstate" in parsed) {
    const h = parsed as Partial<Header>;
    if (h.agentstate !== "export" || h.version !== 1) {
      throw new Error(`line ${number}: not an agentstate export of version 1 (${line.slice(0, 80)})`);
    }
    return { header: { agentstate: "export", version: 1, mode: modeOf(h.mode ?? "agent") }, rest: all };
  }
  return {
    header: null,
    rest: (async function* () {
      yield first.value;
      yield* all;
    })(),
  };
}

/** Checks entries exactly as `importSessions` will, on a scratch in-memory storage. */
export class EntryChecker {
  #scratch: MemoryStorage<SessionMode>;

  /** A checker for sessions of `mode`. */
  constructor(mode: SessionMode) {
    this.#scratch = new MemoryStorage({ mode });
  }

  /** Validates `entry`; throws an `Error` starting with `where` and naming the bad fields. */
  async check(entry: unknown, where: string): Promise<SessionExport<Session>> {
    try {
      await this.#scratch.importSessions([entry] as never, { onConflict: "overwrite" });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const shown = error.issues.slice(0, 3).map((i) => `${i.path.slice(1).join(".") || "entry"}: ${i.message}`);
      throw new Error(`${where}: ${shown.join("; ")}`);
    }
    const valid = entry as SessionExport<Session>;
    await this.#scratch.deleteSession(valid.session.sessionId);
    return valid;
  }

  /** Parses and validates one NDJSON line; throws an `Error` naming its number. */
  checkLine(line: string, number: number): Promise<SessionExport<Session>> {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch (error) {
      throw new Error(`line ${number}: not JSON (${(error as Error).message})`);
    }
    return this.check(entry, `line ${number}`);
  }
}

/** Exists as a file, directory or link (a link is not followed). */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Creates `FILE.partial` for `--out FILE`, never following a link and never
 * overwriting without `force` (then a stale `FILE.partial` is removed, not followed).
 */
async function createPartial(out: string, force: boolean): Promise<{ partial: string; file: FileHandle }> {
  if (!force && await exists(out)) throw new UsageError(`${out} exists; pass --force to overwrite it`);
  const partial = `${out}.partial`;
  if (await exists(partial)) {
    if (!force) {
      throw new UsageError(`${partial} exists (left by an interrupted export?); remove it or pass --force`);
    }
    await unlink(partial);
  }
  // "wx" (O_EXCL) fails on anything already there, a link planted since the check included.
  return { partial, file: await openFile(partial, "wx", 0o600) };
}

/** `export <url> [--out file] [--force] [--ttl D]`: NDJSON on stdout or in a file (written aside, then renamed into place). */
export async function exportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    out: { type: "string", short: "o" },
    force: { type: "boolean", default: false },
    ...TTL_OPTION,
  });
  if (positionals.length !== 1) throw new UsageError("export takes one storage URL");
  const ttlMs = ttlOf(values);
  const out = str(values, "out");
  const target = out === undefined || out === "-" ? null : await createPartial(out, values.force === true);
  const { partial = null, file = null } = target ?? {};
  let ok = false;
  try {
    await using storage = await open(positionals[0], values, { mustExist: true, readOnly: true, ttlMs });
    const encoder = new TextEncoder();
    const write = (text: string) => file ? writeAll(file, encoder.encode(text)) : writeStdout(encoder.encode(text));
    const progress = new Progress("export", { quiet: values.quiet === true });
    try {
      const header: Header = { agentstate: "export", version: 1, mode: storage.mode };
      await write(JSON.stringify(header) + "\n");
      for await (const entry of readAll(storage)) {
        await write(JSON.stringify(entry) + "\n");
        progress.add();
      }
      await file?.sync();
      ok = true;
    } finally {
      await file?.close();
    }
    if (partial) await rename(partial, out!);
    progress.done(`${progress.count} session(s)${out && out !== "-" ? ` written to ${out}` : ""}`);
  } finally {
    if (partial && !ok) {
      await unlink(partial).catch((error) => {
        if (!isNotFound(error)) throw error;
      });
    }
  }
}

/** Copies stdin to a temporary file (mode 0600) removed on dispose. */
async function spoolStdin(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "agentstate-import-"));
  const path = join(dir, "stdin.ndjson");
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const file = await openFile(path, "wx", 0o600);
    try {
      for await (const chunk of readInput("-")) await writeAll(file, chunk);
    } finally {
      await file.close();
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return { path, [Symbol.asyncDispose]: remove };
}

/** `import <url> [--in file] [--on-conflict skip|overwrite|fail]`. */
export async function importCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    in: { type: "string", short: "i" },
    "on-conflict": { type: "string" },
  });
  if (positionals.length !== 1) throw new UsageError("import takes one storage URL");
  const onConflict = onConflictOf(str(values, "on-conflict"), "fail");
  let input = str(values, "in") ?? "-";
  // Two passes (check, then import) read stdin once: it is spooled to a private temporary file.
  await using spool = input === "-" && onConflict !== "skip" ? await spoolStdin() : null;
  if (spool) input = spool.path;
  let { header, rest } = await openExport(input);
  const mode = header && values.mode === undefined ? header.mode : modeOf(values.mode);
  if (header && header.mode !== mode) {
    throw new Error(`the export holds ${header.mode} sessions, not ${mode} ones (leave out --mode to use the file's)`);
  }
  await using storage = await open(positionals[0], values, { mode });
  let total: number | undefined;
  if (onConflict !== "skip") {
    // First pass: every line must be valid, and with "fail" no id may exist, before anything is written.
    const checker = new EntryChecker(mode);
    const seen = new Map<string, number>();
    for await (const [number, line] of rest) {
      const { sessionId } = (await checker.checkLine(line, number)).session;
      const previous = seen.get(sessionId);
      if (onConflict === "fail" && previous !== undefined) {
        throw new Error(`line ${number}: session ${JSON.stringify(sessionId)} already on line ${previous}`);
      }
      seen.set(sessionId, number);
      if (onConflict === "fail" && await storage.read(sessionId)) {
        throw new Error(`line ${number}: session ${JSON.stringify(sessionId)} exists (--on-conflict fail)`);
      }
    }
    total = seen.size;
    seen.clear();
    ({ rest } = await openExport(input));
  }
  const progress = new Progress("import", { quiet: values.quiet === true, ...(total ? { total } : {}) });
  const importer = new BatchImporter(storage, onConflict, progress);
  const checker = new EntryChecker(mode);
  const bad: string[] = [];
  for await (const [number, line] of rest) {
    let entry: SessionExport<Session>;
    try {
      entry = await checker.checkLine(line, number);
    } catch (error) {
      bad.push((error as Error).message);
      if (values.quiet !== true && bad.length <= 20) {
        writeStderr(`agentstate: skipping ${printable((error as Error).message)}\n`);
      }
      continue;
    }
    await importer.add(entry);
  }
  await importer.flush();
  const { imported, skipped } = importer;
  progress.finish();
  print(`imported ${imported}, skipped ${skipped}${bad.length ? `, bad lines ${bad.length}` : ""}`);
  if (bad.length > 0) throw new Error(`${bad.length} line(s) could not be read; first: ${bad[0]}`);
}

/** `copy <from-url> <to-url> [--on-conflict skip|overwrite|fail] [--ttl D]`: streams pages; re-running resumes. */
export async function copy(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { "on-conflict": { type: "string" }, ...TTL_OPTION });
  const onConflict = onConflictOf(str(values, "on-conflict"), "skip");
  if (positionals.length !== 2) throw new UsageError("copy needs a source URL and a target URL");
  if (positionals[0] === positionals[1]) throw new UsageError("copy needs two different storages");
  // --ttl applies to the source: sessions expired there are not copied; the target is opened as it is.
  await using source = await open(positionals[0], values, { mustExist: true, readOnly: true, ttlMs: ttlOf(values) });
  await using target = await open(positionals[1], values);
  const progress = new Progress("copy", { quiet: values.quiet === true });
  const importer = new BatchImporter(target, onConflict, progress);
  for await (const entry of readAll(source)) await importer.add(entry);
  await importer.flush();
  const { imported, skipped } = importer;
  progress.finish();
  print(`copied ${imported}, skipped ${skipped} (already in the target)`);
}
