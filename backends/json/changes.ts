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
import { fingerprint, isNotFound, lstatOrNull, openNoFollow, readRest, removeIfPresent, writeAll } from "./files.ts";
import type { DirLocks } from "./locks.ts";
import { CorruptRecordError } from "../../session/errors.ts";

const MAX_LOG_BYTES = 16 * 1024 * 1024;

/** Where a reader stands in the log: its identity (`dev:ino`) and the byte offset read up to. */
export interface LogPosition {
  /** `dev:ino` of the log, or `null` when there was none. */
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
      const { file } = (await openNoFollow(this.#path, { append: true, create: true }))!;
      try {
        await writeAll(file, new TextEncoder().encode(names.join("\n") + "\n"));
        return (await file.stat()).size;
      } finally {
        file.close();
      }
    });
    if (size > MAX_LOG_BYTES) await this.#locks.hold("changes", true, () => removeIfPresent(this.#path));
  }

  /** Where the log ends now. */
  async end(): Promise<LogPosition> {
    const info = await lstatOrNull(this.#path);
    if (info?.isSymlink) throw new CorruptRecordError(this.#path, "is a symbolic link, which is not followed");
    return info === null ? { id: null, offset: 0 } : { id: idOf(info), offset: info.size };
  }

  /**
   * The names noted after `position` and the position after them, or `null`
   * when the log was rotated or replaced since (the reader must rescan).
   */
  async since(position: LogPosition): Promise<{ names: string[]; position: LogPosition } | null> {
    let opened;
    try {
      opened = await openNoFollow(this.#path, {});
    } catch (error) {
      if (isNotFound(error)) opened = null;
      else throw error;
    }
    if (opened === null) return position.id === null ? { names: [], position } : null;
    const { file, info } = opened;
    try {
      if (idOf(info) !== position.id || info.size < position.offset) return null;
      if (info.size === position.offset) return { names: [], position };
      await file.seek(position.offset, Deno.SeekMode.Start);
      const text = new TextDecoder().decode(await readRest(file, info.size - position.offset));
      const end = text.lastIndexOf("\n");
      if (end < 0) return { names: [], position };
      const names = [...new Set(text.slice(0, end).split("\n").filter((n) => n !== ""))];
      // File names are ASCII: characters are bytes.
      return { names, position: { id: position.id, offset: position.offset + end + 1 } };
    } finally {
      file.close();
    }
  }
}

function idOf(info: Deno.FileInfo): string {
  return fingerprint(info).split(":").slice(0, 2).join(":");
}
