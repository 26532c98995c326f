/** Shared option parsing and storage opening for the commands. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { openStorage, type SessionMode, type StorageOf, ValidationError } from "../mod.ts";
import { UsageError } from "./errors.ts";

/** Options every command takes. */
export const COMMON_OPTIONS = {
  mode: { type: "string", default: "agent" },
  token: { type: "string" },
  table: { type: "string" },
  prefix: { type: "string" },
  quiet: { type: "boolean", short: "q", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

/** Parses `args` strictly (unknown flags are usage errors). */
export function parse<O extends ParseArgsConfig["options"]>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The mode from `--mode`. */
export function modeOf(value: unknown): SessionMode {
  if (value === "agent" || value === "team" || value === "workflow") return value;
  throw new UsageError(`--mode must be agent, team or workflow, not ${JSON.stringify(value)}`);
}

/** Opens the storage a URL names, with the token from `--token` or the environment. */
export async function open(
  url: string | undefined,
  values: { mode?: unknown; token?: unknown; table?: unknown; prefix?: unknown },
  mode: SessionMode = modeOf(values.mode),
): Promise<StorageOf<SessionMode>> {
  if (!url) throw new UsageError("a storage URL is required");
  let token = values.token as string | undefined;
  if (token === undefined && url.startsWith("upstash+")) token = Deno.env.get("UPSTASH_REDIS_REST_TOKEN");
  if (token === undefined && /^(libsql|https?|wss?):/.test(url)) token = Deno.env.get("LIBSQL_AUTH_TOKEN");
  try {
    return await openStorage(url, {
      mode,
      ...(token ? { token } : {}),
      ...(values.table ? { table: String(values.table) } : {}),
      ...(values.prefix ? { prefix: String(values.prefix) } : {}),
    }) as StorageOf<SessionMode>;
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(error.message);
    throw error;
  }
}

/** Parses a time given as epoch milliseconds or an ISO date. */
export function parseTime(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} expects epoch milliseconds or an ISO date, got ${value}`);
  return ms;
}

/** Parses a positive integer flag. */
export function parseCount(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} expects a positive integer, got ${value}`);
  return n;
}

/** Writes a line to stdout. */
export function print(line = ""): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}
