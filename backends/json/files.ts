/**
 * File primitives of the JSON backend, over `node:fs/promises` (which Deno,
 * Node.js and Bun provide; loaded on first use, so importing the library in
 * a browser or a Worker never needs it): writes that never stop short
 * (every byte written or an error), atomic replacement (temporary file,
 * fsync, rename; the temporary file removed on failure), and opening that
 * refuses symbolic links.
 *
 * @module
 */
import type { Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { CorruptRecordError, StorageError } from "../../session/errors.ts";

/** An open file. */
export type File = FileHandle;
/** What `lstat`/`stat` say about a file. */
export type FileInfo = Stats;

type NodeFs = typeof import("node:fs/promises");

let loaded: Promise<NodeFs> | null = null;

/** Where the JSON backend runs, for the error thrown elsewhere. */
export const RUNS_ON = "the JSON backend needs a file system (node:fs): it runs on Deno, Node.js and Bun, " +
  "not in browsers or edge Workers (use IndexedDB, Upstash or remote libSQL there)";

/** Whether this runtime has a real file system: Deno, Node.js or Bun, and not a Worker. */
export function hasFileSystem(): boolean {
  const g = globalThis as {
    Deno?: { version?: { deno?: unknown } };
    Bun?: { version?: unknown };
    process?: { versions?: { node?: unknown } };
    navigator?: { userAgent?: unknown };
  };
  if (g.navigator?.userAgent === "Cloudflare-Workers") return false;
  return typeof g.Deno?.version?.deno === "string" || typeof g.Bun?.version === "string" ||
    typeof g.process?.versions?.node === "string";
}

/** `node:fs/promises`, loaded once. */
export function fs(): Promise<NodeFs> {
  loaded ??= import("node:fs/promises").catch((cause) => {
    loaded = null;
    throw new StorageError(RUNS_ON, { cause });
  });
  return loaded;
}

function code(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/** Whether `error` is the file system's "no such file". */
export function isNotFound(error: unknown): boolean {
  return code(error) === "ENOENT";
}

/** Whether `error` is the file system's "already exists". */
export function isAlreadyExists(error: unknown): boolean {
  return code(error) === "EEXIST";
}

/**
 * Creates the directory `path` (owner-only), with its parents unless
 * `parents` is false (then a missing parent is "no such file"); an existing
 * directory is fine.
 */
export async function makeDir(path: string, parents = true): Promise<void> {
  try {
    await (await fs()).mkdir(path, { recursive: parents, mode: 0o700 });
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
}

/** An entry of a directory: its name and type (a symbolic link is not followed). */
export interface DirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
}

/** The entries of directory `path`. */
export async function listDir(path: string): Promise<DirEntry[]> {
  const entries = await (await fs()).readdir(path, { withFileTypes: true });
  return entries.map((entry) => ({
    name: entry.name,
    isFile: entry.isFile(),
    isDirectory: entry.isDirectory(),
    isSymlink: entry.isSymbolicLink(),
  }));
}

/** Renames `from` over `to`. */
export async function renameFile(from: string, to: string): Promise<void> {
  await (await fs()).rename(from, to);
}

/** The text of `path` (UTF-8). */
export async function readText(path: string): Promise<string> {
  return await (await fs()).readFile(path, "utf8");
}

/** The text of `path` (UTF-8), or `null` when there is no such file; any other failure is thrown. */
export async function readTextIfPresent(path: string): Promise<string | null> {
  try {
    return await readText(path);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** Removes `path` (a file); a missing file is fine, any other failure is thrown. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await (await fs()).unlink(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** Removes the directory `path` and everything in it; a missing directory is fine. */
export async function removeTree(path: string): Promise<void> {
  await (await fs()).rm(path, { recursive: true, force: true });
}

/**
 * Removes the temporary files `paths` after `failure`, then throws `failure`:
 * it is the error to report. A file that cannot be removed either is named
 * in the thrown error's `suppressed` list and left for `create()`, which
 * removes temporary files once they are stale.
 */
export async function discardAfter(paths: readonly string[], failure: unknown): Promise<never> {
  const suppressed: unknown[] = [];
  for (const path of paths) {
    try {
      await removeIfPresent(path);
    } catch (error) {
      suppressed.push(error);
    }
  }
  if (suppressed.length > 0 && failure instanceof Error) Object.assign(failure, { suppressed });
  throw failure;
}

/** `lstat` of `path`, or `null` when it does not exist. */
export async function lstatOrNull(path: string): Promise<FileInfo | null> {
  try {
    return await (await fs()).lstat(path);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** Identity and content stamp of a file: changes with every rename over it and every write to it. */
export function fingerprint(info: FileInfo): string {
  // Whole milliseconds: the same stamp whichever runtime (some give fractions) took it.
  return `${info.dev}:${info.ino}:${info.size}:${Math.floor(info.mtimeMs)}`;
}

/**
 * Writes all of `bytes` at `position` (`null`: the file's position, or its
 * end when opened to append): a short write is retried, a write that makes
 * no progress throws.
 */
export async function writeAll(file: File, bytes: Uint8Array, position: number | null = null): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const at = position === null ? null : position + done;
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, at);
    if (bytesWritten <= 0) throw new Error(`wrote ${done} of ${bytes.length} bytes`);
    done += bytesWritten;
  }
}

/** Reads `file` from byte `from` to its end. */
export async function readRest(file: File, sizeHint: number, from = 0): Promise<Uint8Array> {
  let buffer = new Uint8Array(Math.max(sizeHint, 4096));
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    const { bytesRead } = await file.read(buffer, length, buffer.length - length, from + length);
    if (bytesRead === 0) return buffer.subarray(0, length);
    length += bytesRead;
  }
}

function refuseLink(path: string, info: FileInfo): void {
  if (info.isSymbolicLink()) throw new CorruptRecordError(path, "is a symbolic link, which is not followed");
  if (!info.isFile()) throw new CorruptRecordError(path, "is not a regular file");
}

/**
 * Opens `path` without following a symbolic link: `lstat` first, then the
 * opened file's own `stat` must be the same file (else it was swapped and
 * the check runs again). Returns `null` when it does not exist and
 * `create` is false; with `create`, a missing file is created exclusively.
 */
export async function openNoFollow(
  path: string,
  options: { write?: boolean; append?: boolean; create?: boolean },
): Promise<{ file: File; info: FileInfo } | null> {
  const { open, constants: c } = await fs();
  const access = options.write || options.append ? c.O_RDWR | (options.append ? c.O_APPEND : 0) : c.O_RDONLY;
  for (let attempt = 0; attempt < 10; attempt++) {
    const link = await lstatOrNull(path);
    if (link === null) {
      if (!options.create) return null;
      try {
        const file = await open(path, access | c.O_CREAT | c.O_EXCL, 0o600);
        return { file, info: await file.stat() };
      } catch (error) {
        if (isAlreadyExists(error)) continue;
        throw error;
      }
    }
    refuseLink(path, link);
    let file: File;
    try {
      file = await open(path, access);
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    const info = await file.stat();
    if (info.ino === link.ino && info.dev === link.dev) return { file, info };
    await file.close();
  }
  throw new CorruptRecordError(path, "keeps changing between lstat and open");
}

/** The text of `path` and its `stat`, or `null` when it does not exist; a symbolic link is refused. */
export async function readNoFollow(path: string): Promise<{ text: string; info: FileInfo } | null> {
  const opened = await openNoFollow(path, {});
  if (opened === null) return null;
  try {
    const bytes = await readRest(opened.file, opened.info.size);
    return { text: new TextDecoder().decode(bytes), info: opened.info };
  } finally {
    await opened.file.close();
  }
}

/** Creates `path` exclusively (owner-only) holding `text`; throws "already exists" if it is there. */
export async function createExclusive(path: string, text: string): Promise<void> {
  const file = await (await fs()).open(path, "wx", 0o600);
  try {
    await writeAll(file, new TextEncoder().encode(text));
  } finally {
    await file.close();
  }
}

/** Writes `text` to a new temporary file in `dir` and fsyncs it; a failed write removes the file. */
export async function writeTemp(dir: string, text: string): Promise<string> {
  const temp = `${dir}/.tmp-${crypto.randomUUID()}`;
  const file = await (await fs()).open(temp, "wx", 0o600);
  try {
    await writeAll(file, new TextEncoder().encode(text));
    await file.sync();
  } catch (error) {
    await file.close();
    await discardAfter([temp], error);
  }
  await file.close();
  return temp;
}

/** Replaces `path` with `text` atomically: temporary file, fsync, rename; nothing is left behind on failure. */
export async function writeAtomic(dir: string, path: string, text: string): Promise<void> {
  const temp = await writeTemp(dir, text);
  try {
    await renameFile(temp, path);
  } catch (error) {
    await discardAfter([temp], error);
  }
}

/** Hard-links `existing` as `path`; `false` when `path` already exists. */
export async function linkIfAbsent(existing: string, path: string): Promise<boolean> {
  try {
    await (await fs()).link(existing, path);
    return true;
  } catch (error) {
    if (isAlreadyExists(error)) return false;
    throw error;
  }
}
