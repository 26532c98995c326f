/**
 * Moving sessions: `export` (NDJSON), `import` and `copy` between any two
 * storages. Sessions keep their `createdAt`, `updatedAt`, `version` and runs.
 *
 * The NDJSON format: a header line `{"agentstate":"export","version":1,"mode":…}`,
 * then one line per session: `{"session": {…}, "runs": [{seq, createdAt, run}, …]}`.
 */
import {
  parseSessionRecord,
  type RunRecord,
  type Session,
  type SessionExport,
  type SessionMode,
  type StorageOf,
  ValidationError,
} from "../mod.ts";
import { open, parse, print } from "./args.ts";
import { UsageError } from "./errors.ts";
import { Progress } from "./progress.ts";

const BATCH = 500;

/** Feeds entries to `importSessions` in batches, counting what was imported and skipped. */
export class BatchImporter {
  /** Sessions written. */
  imported = 0;
  /** Sessions left alone because they existed. */
  skipped = 0;
  #batch: SessionExport<Session>[] = [];
  #storage: StorageOf<SessionMode>;
  #onConflict: "skip" | "overwrite" | "fail";
  #progress: Progress;

  /** Imports into `storage` with `onConflict`, reporting to `progress`. */
  constructor(storage: StorageOf<SessionMode>, onConflict: "skip" | "overwrite" | "fail", progress: Progress) {
    this.#storage = storage;
    this.#onConflict = onConflict;
    this.#progress = progress;
  }

  /** Queues an entry; imports a batch when it is full. */
  async add(entry: SessionExport<Session>): Promise<void> {
    this.#batch.push(entry);
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
  }
}

/** Every session of `storage`, oldest first, page by page, with its runs. */
export async function* readAll(storage: StorageOf<SessionMode>): AsyncGenerator<SessionExport<Session>> {
  let cursor: string | null = null;
  do {
    const page: { sessions: Session[]; nextCursor: string | null } = await storage.listSessions({
      sortBy: "createdAt",
      order: "asc",
      limit: BATCH,
      cursor,
    });
    for (const session of page.sessions) {
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
    cursor = page.nextCursor;
  } while (cursor !== null);
}

/** Lines of a file (or stdin for `-`), decoded as a stream. */
async function* lines(path: string): AsyncGenerator<string> {
  const file = path === "-" ? Deno.stdin : await Deno.open(path);
  let rest = "";
  for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest !== "") yield rest;
}

function onConflictOf(value: string | undefined, fallback: "skip" | "overwrite" | "fail") {
  const v = value ?? fallback;
  if (v !== "skip" && v !== "overwrite" && v !== "fail") {
    throw new UsageError("--on-conflict must be skip, overwrite or fail");
  }
  return v;
}

/** `export <url> [--out file]`. */
export async function exportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { out: { type: "string", short: "o" } });
  await using storage = await open(positionals[0], values);
  const file = values.out
    ? await Deno.open(values.out, { write: true, create: true, truncate: true, mode: 0o600 })
    : null;
  const writer = (file ? file.writable : Deno.stdout.writable).getWriter();
  const encoder = new TextEncoder();
  const progress = new Progress("export", { quiet: values.quiet });
  try {
    await writer.write(encoder.encode(JSON.stringify({ agentstate: "export", version: 1, mode: storage.mode }) + "\n"));
    for await (const entry of readAll(storage)) {
      await writer.write(encoder.encode(JSON.stringify(entry) + "\n"));
      progress.add();
    }
  } finally {
    if (file) await writer.close();
    else writer.releaseLock();
  }
  progress.done(`${progress.count} session(s)`);
}

/** Reads and checks one NDJSON line; throws naming the line. */
function parseLine(line: string, number: number, mode: SessionMode): SessionExport<Session> {
  try {
    const entry = JSON.parse(line) as { session?: unknown; runs?: unknown };
    const session = parseSessionRecord(mode, entry?.session);
    if (entry.runs !== undefined && !Array.isArray(entry.runs)) throw new Error("runs is not an array");
    return { session, runs: (entry.runs ?? []) as RunRecord[] };
  } catch (error) {
    const detail = error instanceof ValidationError || error instanceof SyntaxError ? error.message : String(error);
    throw new Error(`line ${number}: ${detail}`);
  }
}

/** `import <url> [--in file] [--on-conflict skip|overwrite|fail]`. */
export async function importCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    in: { type: "string", short: "i" },
    "on-conflict": { type: "string" },
  });
  const onConflict = onConflictOf(values["on-conflict"], "fail");
  const input = values.in ?? "-";
  if (input === "-" && onConflict !== "skip") {
    throw new UsageError("reading stdin allows one pass only: use --in <file>, or --on-conflict skip");
  }
  await using storage = await open(positionals[0], values);
  const isHeader = (line: string) => line.startsWith('{"agentstate":');
  const bad: string[] = [];
  if (onConflict !== "skip") {
    // First pass: every line must be valid, and with "fail" no id may exist, before anything is written.
    let number = 0;
    for await (const line of lines(input)) {
      number++;
      if (line.trim() === "" || isHeader(line)) continue;
      const entry = parseLine(line, number, storage.mode);
      if (onConflict === "fail" && await storage.read(entry.session.sessionId)) {
        throw new Error(
          `line ${number}: session ${JSON.stringify(entry.session.sessionId)} exists (--on-conflict fail)`,
        );
      }
    }
  }
  const progress = new Progress("import", { quiet: values.quiet });
  const importer = new BatchImporter(storage, onConflict, progress);
  let number = 0;
  for await (const line of lines(input)) {
    number++;
    if (line.trim() === "" || isHeader(line)) continue;
    let entry: SessionExport<Session>;
    try {
      entry = parseLine(line, number, storage.mode);
    } catch (error) {
      bad.push((error as Error).message);
      continue;
    }
    await importer.add(entry);
  }
  await importer.flush();
  const { imported, skipped } = importer;
  progress.done(`${imported} imported, ${skipped} skipped, ${bad.length} bad line(s)`);
  print(`imported ${imported}, skipped ${skipped}${bad.length ? `, bad lines: ${bad.length}` : ""}`);
  if (bad.length > 0) throw new Error(`${bad.length} line(s) could not be read; first: ${bad[0]}`);
}

/** `copy <from-url> <to-url> [--on-conflict skip|overwrite|fail]`: streams pages; re-running resumes. */
export async function copy(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { "on-conflict": { type: "string" } });
  const onConflict = onConflictOf(values["on-conflict"], "skip");
  if (positionals.length !== 2) throw new UsageError("copy needs a source URL and a target URL");
  await using source = await open(positionals[0], values);
  await using target = await open(positionals[1], values);
  const progress = new Progress("copy", { quiet: values.quiet });
  const importer = new BatchImporter(target, onConflict, progress);
  for await (const entry of readAll(source)) await importer.add(entry);
  await importer.flush();
  const { imported, skipped } = importer;
  progress.done(`${imported} copied, ${skipped} already there`);
  print(`copied ${imported}, skipped ${skipped} (already in the target)`);
}
