/**
 * File primitives of the JSON backend: writes that never stop short
 * (every byte written or an error), atomic replacement (temporary file,
 * fsync, rename; the temporary file removed on failure), and opening that
 * refuses symbolic links.
 *
 * @module
 */
import { CorruptRecordError } from "../../session/errors.ts";

/** Whether `error` is the file system's "no such file". */
export function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

/** Removes `path`; a missing file is fine, any other failure is thrown. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
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
export async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** Identity and content stamp of a file: changes with every rename over it and every write to it. */
export function fingerprint(info: Deno.FileInfo): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtime?.getTime() ?? 0}`;
}

/** Writes all of `bytes` at the file's position: a short write is retried, a write that makes no progress throws. */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const n = await file.write(bytes.subarray(done));
    if (n <= 0) throw new Deno.errors.WriteZero(`wrote ${done} of ${bytes.length} bytes`);
    done += n;
  }
}

/** Reads `file` from its position to its end. */
export async function readRest(file: Deno.FsFile, sizeHint: number): Promise<Uint8Array> {
  let buffer = new Uint8Array(Math.max(sizeHint, 4096));
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = await file.read(buffer.subarray(length));
    if (n === null) return buffer.subarray(0, length);
    length += n;
  }
}

function refuseLink(path: string, info: Deno.FileInfo): void {
  if (info.isSymlink) throw new CorruptRecordError(path, "is a symbolic link, which is not followed");
  if (!info.isFile) throw new CorruptRecordError(path, "is not a regular file");
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
): Promise<{ file: Deno.FsFile; info: Deno.FileInfo } | null> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const link = await lstatOrNull(path);
    if (link === null) {
      if (!options.create) return null;
      try {
        const file = await Deno.open(path, { read: true, ...options, createNew: true, mode: 0o600 });
        return { file, info: await file.stat() };
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) continue;
        throw error;
      }
    }
    refuseLink(path, link);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: options.write, append: options.append });
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    const info = await file.stat();
    if (info.ino === link.ino && info.dev === link.dev) return { file, info };
    file.close();
  }
  throw new CorruptRecordError(path, "keeps changing between lstat and open");
}

/** The text of `path` and its `stat`, or `null` when it does not exist; a symbolic link is refused. */
export async function readNoFollow(path: string): Promise<{ text: string; info: Deno.FileInfo } | null> {
  const opened = await openNoFollow(path, {});
  if (opened === null) return null;
  try {
    const bytes = await readRest(opened.file, opened.info.size);
    return { text: new TextDecoder().decode(bytes), info: opened.info };
  } finally {
    opened.file.close();
  }
}

/** Writes `text` to a new temporary file in `dir` and fsyncs it; a failed write removes the file. */
export async function writeTemp(dir: string, text: string): Promise<string> {
  const temp = `${dir}/.tmp-${crypto.randomUUID()}`;
  const file = await Deno.open(temp, { create: true, createNew: true, write: true, mode: 0o600 });
  try {
    await writeAll(file, new TextEncoder().encode(text));
    await file.sync();
  } catch (error) {
    file.close();
    await discardAfter([temp], error);
  }
  file.close();
  return temp;
}

/** Replaces `path` with `text` atomically: temporary file, fsync, rename; nothing is left behind on failure. */
export async function writeAtomic(dir: string, path: string, text: string): Promise<void> {
  const temp = await writeTemp(dir, text);
  try {
    await Deno.rename(temp, path);
  } catch (error) {
    await discardAfter([temp], error);
  }
}
