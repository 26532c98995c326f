/** Shared option parsing and storage opening for the commands. */
import { stat } from "node:fs/promises";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { openStorage, type SessionMode, STORAGE_URL_FORMS, type StorageOf, ValidationError } from "../mod.ts";
import { findBackend, schemeOf } from "../backends/registry.ts";
import { UsageError } from "./errors.ts";
import { env, writeStdout } from "./io.ts";
import { didYouMean } from "./text.ts";

/** Options every command takes. */
export const COMMON_OPTIONS = {
  mode: { type: "string" },
  token: { type: "string" },
  table: { type: "string" },
  prefix: { type: "string" },
  quiet: { type: "boolean", short: "q", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

/** Option definitions as `node:util` `parseArgs` takes them. */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** What {@linkcode parse} returns: flag values by name and positional arguments. */
export interface Parsed {
  /** Flag values (strings, or booleans for boolean flags); absent flags are `undefined`. */
  values: Record<string, string | boolean | undefined>;
  /** Arguments that are not flags, in order. */
  positionals: string[];
}

/** Parses `args` strictly (unknown flags are usage errors) with the common options and `options`. */
export function parse(args: string[], options: OptionSpec): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed["values"], positionals };
  } catch (error) {
    const unknown = /^Unknown option '([^']+)'/.exec((error as Error).message)?.[1];
    if (unknown === undefined) throw new UsageError((error as Error).message);
    const all: OptionSpec = { ...COMMON_OPTIONS, ...options };
    const known = Object.entries(all).flatMap(([name, spec]) => [
      `--${name}`,
      ...(spec.short ? [`-${spec.short}`] : []),
    ]);
    throw new UsageError(`unknown option ${unknown}${didYouMean(unknown, known)}`);
  }
}

/** A string flag's value, or `undefined`. */
export function str(values: Parsed["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** The mode from `--mode` (default `agent`). */
export function modeOf(value: unknown): SessionMode {
  if (value === undefined) return "agent";
  if (value === "agent" || value === "team" || value === "workflow") return value;
  throw new UsageError(`--mode must be agent, team or workflow, not ${JSON.stringify(value)}`);
}

/** The file or directory a `file:` or `json:` URL names, or `null` for other URLs. */
export function localPath(url: string): string | null {
  if (/^file:/i.test(url)) return decodeURIComponent(url.slice(5).replace(/^\/\/(?=\/)/, "").replace(/\?.*$/, ""));
  if (/^json:/i.test(url)) return url.slice(5).replace(/^\/\/(?=\/)/, "");
  return null;
}

/** How {@linkcode open} treats the storage. */
export interface OpenOptions {
  /** Mode of the storage (default: from `--mode`). */
  mode?: SessionMode;
  /** Refuse a `file:` or `json:` URL whose file or directory does not exist (read-only commands). */
  mustExist?: boolean;
  /** Only reads: a libSQL file is opened read-only (read-only media and backups work; nothing migrates). */
  readOnly?: boolean;
  /** libSQL table name (default: `--table`). */
  table?: string | undefined;
  /** Sessions not written for this many milliseconds count as expired (from `--ttl`; none when `undefined`). */
  ttlMs?: number | undefined;
}

/** Opens the storage a URL names, with the token from `--token` or the environment. */
export async function open(
  url: string | undefined,
  values: Parsed["values"],
  options: OpenOptions = {},
): Promise<StorageOf<SessionMode>> {
  if (!url) throw new UsageError("a storage URL is required");
  if (schemeOf(url) === undefined) throw new UsageError(await bareUrlHint(url));
  const mode = options.mode ?? modeOf(values.mode);
  let token = str(values, "token");
  const tokenEnv = findBackend(url)?.tokenEnv;
  if (token === undefined && tokenEnv) token = env(tokenEnv);
  const path = localPath(url);
  if (options.mustExist && path !== null && path !== "" && path !== ":memory:") {
    try {
      await stat(path);
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") throw new Error(`${url}: ${path} does not exist`);
      throw error;
    }
  }
  const table = "table" in options ? options.table : str(values, "table");
  const prefix = str(values, "prefix");
  try {
    return await openStorage(url, {
      mode,
      ...(token ? { token } : {}),
      ...(table ? { table } : {}),
      ...(prefix ? { prefix } : {}),
      ...(options.readOnly ? { readOnly: true } : {}),
      ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
    }) as StorageOf<SessionMode>;
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(error.message);
    throw error;
  }
}

/** The message for a location given without a scheme: which URL was probably meant. */
async function bareUrlHint(url: string): Promise<string> {
  const isDir = await stat(url).then((info) => info.isDirectory(), () => false);
  const shown = JSON.stringify(url);
  if (isDir) return `${shown} is not a storage URL; did you mean json:${url}?`;
  if (/\.(db|sqlite3?|libsql)$/i.test(url)) return `${shown} is not a storage URL; did you mean file:${url}?`;
  return `${shown} is not a storage URL; expected one of ${STORAGE_URL_FORMS.join(", ")}`;
}

/** Parses a time given as epoch milliseconds or an ISO date. */
export function parseTime(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} expects epoch milliseconds or an ISO date, got ${value}`);
  return ms;
}

/** `--ttl D`, for the commands that take it. */
export const TTL_OPTION = { ttl: { type: "string" } } as const satisfies OptionSpec;

/** Milliseconds per duration unit, longest first (the order a duration must give them in). */
const UNITS: readonly (readonly [string, number])[] = [
  ["w", 604_800_000],
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1],
];

/**
 * Parses a duration such as `30d`, `12h`, `1h30m` or `500ms` into milliseconds: one or more `<digits><unit>` with
 * units w, d, h, m, s, ms, each at most once and longest first; the total must be more than 0.
 */
export function parseDuration(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const bad = () =>
    new UsageError(
      `${flag} expects a duration such as 30d, 12h, 1h30m or 500ms (units w, d, h, m, s, ms, longest first), ` +
        `not ${JSON.stringify(value)}`,
    );
  if (!/^(?:\d+(?:ms|[wdhms]))+$/.test(value)) throw bad();
  let ms = 0;
  let last = -1;
  for (const [, digits, unit] of value.matchAll(/(\d+)(ms|[wdhms])/g)) {
    const index = UNITS.findIndex(([u]) => u === unit);
    if (index <= last) throw bad();
    last = index;
    ms += Number(digits) * UNITS[index]![1];
  }
  if (!Number.isSafeInteger(ms)) throw new UsageError(`${flag} ${value} is too long`);
  if (ms < 1) throw new UsageError(`${flag} must be longer than 0, not ${JSON.stringify(value)}`);
  return ms;
}

/** `--ttl` in milliseconds, or `undefined` when not given. */
export function ttlOf(values: Parsed["values"]): number | undefined {
  return parseDuration(str(values, "ttl"), "--ttl");
}

/** The error for a session that `read` did not return: absent, another user's, or (with `--ttl`) expired. */
export function notFound(id: string, values: Parsed["values"]): Error {
  const ttl = str(values, "ttl");
  return new Error(
    `session ${JSON.stringify(id)} not found${ttl === undefined ? "" : ` (or expired under --ttl ${ttl})`}`,
  );
}

/** Parses a positive integer flag. */
export function parseCount(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} expects a positive integer, got ${value}`);
  return n;
}

/** Parses `--on-conflict`. */
export function onConflictOf(
  value: string | undefined,
  fallback: "skip" | "overwrite" | "fail",
): "skip" | "overwrite" | "fail" {
  const v = value ?? fallback;
  if (v !== "skip" && v !== "overwrite" && v !== "fail") {
    throw new UsageError(`--on-conflict must be skip, overwrite or fail, not ${JSON.stringify(v)}`);
  }
  return v;
}

/** Writes a line to stdout. */
export function print(line = ""): void {
  writeStdout(new TextEncoder().encode(line + "\n"));
}
