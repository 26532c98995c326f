/**
 * The change log of the JSON backend: `<mode>/.changes`, the names of
 * changed session files, one a line. A writer notes a name before it
 * renames the file (holding the file's stripe lock until after), so a failed
 * note leaves nothing written, and a storage that re-reads a noted file
 * under the stripe lock sees the write. Appends hold the change-log lock
 * shared; rotation (past 16 MiB) holds it exclusively and removes the log,
 * and readers rescan when its identity changes.
 *
 * @module
 */
import { discardAfter, lstatOrNull, openNoFollow, readRest, removeIfPresent, writeAll, writeTemp } from "./files.ts";
import type { DirLocks } from "./locks.ts";

const MAX_LOG_BYTES = 16 * 1024 * 1024;

/** Where a reader stands in the log: its identity (its first line) and the byte offset read up to. */
export interface LogPosition {
  /** The log's first line, a random id written when it was created (inode numbers are reused), or `null` when there was none. */
  id: string | null;
  /** Bytes read. */
  offset: number;
}

/** The change log of one mode directory. */
export class ChangeLog {
  readonly #path: string;
  readonly #locks: DirLocks;

  /** The log `dir/.changes`. */
  constructor(dir: string, locks: DirLocks) {
    this.#path = `${dir}/.changes`;
    this.#locks = locks;
  }

  /** Appends `names` (every byte, or an error); rotates the log once it is past 16 MiB. */
  async note(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    const size = await this.#locks.hold("changes", false, async () => {
      await this.#ensure();
      const opened = await openNoFollow(this.#path, { append: true });
      if (opened === null) throw new Deno.errors.NotFound(`${this.#path} vanished while it was being appended to`);
      const { file } = opened;
      try {
        await writeAll(file, new TextEncoder().encode(names.join("\n") + "\n"));
        return (await file.stat()).size;
      } finally {
        file.close();
      }
    });
    if (size > MAX_LOG_BYTES) await this.#locks.hold("changes", true, () => removeIfPresent(this.#path));
  }

  /** Creates the log, whole with its id line, unless it exists (a link never replaces a file). */
  async #ensure(): Promise<void> {
    if (await lstatOrNull(this.#path) !== null) return;
    const dir = this.#path.slice(0, this.#path.lastIndexOf("/"));
    const temp = await writeTemp(dir, `#${crypto.randomUUID()}\n`);
    try {
      await Deno.link(temp, this.#path);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) await discardAfter([temp], error);
    }
    await removeIfPresent(temp);
  }

  /** Where the log ends now. */
  async end(): Promise<LogPosition> {
    const opened = await openNoFollow(this.#path, {});
    if (opened === null) return { id: null, offset: 0 };
    try {
      return { id: await idLine(opened.file), offset: opened.info.size };
    } finally {
      opened.file.close();
    }
  }

  /**
   * The names noted after `position` and the position after them, or `null`
   * when the log was rotated or replaced since (the reader must rescan).
   */
  async since(position: LogPosition): Promise<{ names: string[]; position: LogPosition } | null> {
    const opened = await openNoFollow(this.#path, {});
    if (opened === null) return position.id === null ? { names: [], position } : null;
    const { file, info } = opened;
    try {
      if (await idLine(file) !== position.id || info.size < position.offset) return null;
      if (info.size === position.offset) return { names: [], position };
      await file.seek(position.offset, Deno.SeekMode.Start);
      const text = new TextDecoder().decode(await readRest(file, info.size - position.offset));
      const end = text.lastIndexOf("\n");
      if (end < 0) return { names: [], position };
      const names = [...new Set(text.slice(0, end).split("\n").filter((n) => n !== "" && !n.startsWith("#")))];
      // File names are ASCII: characters are bytes.
      return { names, position: { id: position.id, offset: position.offset + end + 1 } };
    } finally {
      file.close();
    }
  }
}

/** The first line of the log (its id), read from the start of `file`. */
async function idLine(file: Deno.FsFile): Promise<string> {
  const head = new Uint8Array(64);
  let length = 0;
  for (;;) {
    const n = await file.read(head.subarray(length));
    if (n === null || (length += n) === head.length) break;
  }
  const text = new TextDecoder().decode(head.subarray(0, length));
  return text.slice(0, text.indexOf("\n") >>> 0);
}
