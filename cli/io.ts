/**
 * The CLI's contact with its process, through `node:` modules so that it
 * runs alike on Deno, Node.js and Bun: arguments, environment, standard
 * streams (written synchronously, every byte, so nothing is lost at exit and
 * a closed pipe is an error where it happens), and whether this module is
 * the program.
 *
 * @module
 */
import { createReadStream, realpathSync, writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import process from "node:process";
import { isatty } from "node:tty";
import { fileURLToPath } from "node:url";

/** The program's arguments (without the runtime and the script). */
export function programArgs(): string[] {
  return process.argv.slice(2);
}

/** The environment variable `name`, or `undefined`. */
export function env(name: string): string | undefined {
  return process.env[name];
}

/** Whether standard error is a terminal. */
export function stderrIsTerminal(): boolean {
  return isatty(2);
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Writes every byte of `bytes` to file descriptor `fd` (1 or 2); a full non-blocking pipe is waited for. */
function writeFd(fd: number, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) {
    try {
      written += writeSync(fd, bytes, written, bytes.length - written);
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EAGAIN") throw error;
      pause(1);
    }
  }
}

/** Writes `bytes` to standard output. */
export function writeStdout(bytes: Uint8Array): void {
  writeFd(1, bytes);
}

/** Writes `text` to standard error. */
export function writeStderr(text: string): void {
  writeFd(2, new TextEncoder().encode(text));
}

/** Whether `error` says the reader of our output went away. */
export function isBrokenPipe(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "EPIPE" || (error as Error | null)?.name === "BrokenPipe";
}

/** The bytes of standard input (`-`) or of the file `path`. */
export function readInput(path: string): AsyncIterable<Uint8Array> {
  return path === "-" ? process.stdin : createReadStream(path);
}

/** Ends the process with `code`. */
export function exit(code: number): never {
  process.exit(code);
}

/**
 * Whether the module at `url` is the program that was started: `import.meta.main`
 * where the runtime has it (Deno, Bun, Node.js 24), else the script Node.js
 * was given, links resolved (an npm `bin` is a link).
 */
export function isProgram(meta: { url: string; main?: boolean }): boolean {
  if (typeof meta.main === "boolean") return meta.main;
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(meta.url));
  } catch {
    return false;
  }
}

/** Whether `error` is the file system's "no such file". */
export function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ENOENT";
}

/** Writes every byte of `bytes` to `file` at its position. */
export async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, written, bytes.length - written);
    if (bytesWritten <= 0) throw new Error(`wrote ${written} of ${bytes.length} bytes`);
    written += bytesWritten;
  }
}
