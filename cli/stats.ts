/** `stats`: per mode, how many sessions, users and runs a storage holds, their times and sizes. */
import { SESSION_MODES, type SessionMode, type StorageOf } from "../mod.ts";
import { modeOf, open, parse, print, str, TTL_OPTION, ttlOf } from "./args.ts";
import { UsageError } from "./errors.ts";
import { sessionPages } from "./pages.ts";
import { printable, time } from "./text.ts";

/** Sessions, runs and bytes of one user (or of sessions without a user). */
interface Counts {
  /** Sessions. */
  sessions: number;
  /** Runs of those sessions. */
  runs: number;
  /** Bytes of the sessions as JSON (UTF-8; runs not included). */
  bytes: number;
}

/** What `stats` finds in one mode; times are epoch milliseconds, sizes bytes. */
interface ModeStats extends Counts {
  /** Distinct users (sessions without a user not counted). */
  users: number;
  /** Sessions without a user. */
  withoutUser: number;
  /** Sessions with at least one run. */
  withRuns: number;
  /** Earliest and latest `createdAt`, `null` without sessions. */
  oldest: number | null;
  newest: number | null;
  /** Latest `updatedAt`, `null` without sessions. */
  lastWrite: number | null;
  /** Bytes of the largest session as JSON. */
  largest: number;
  /** With `--ttl`: sessions not written for that long, left out of every other number. */
  expired?: number;
  /** With `--by-user`: counts per user id. */
  byUser?: Record<string, Counts>;
}

/** Sessions per listing page, and `getRuns` calls in flight at once. */
const PAGE = 1000;
const PARALLEL = 16;

/** `1023 B`, `1.5 KiB`, `12 MiB`: binary units, one decimal below 10. */
export function size(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (unit < units.length - 1 && value >= 1023.95) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 ? String(value) : value < 9.95 ? value.toFixed(1) : String(Math.round(value));
  return `${shown} ${units[unit]}`;
}

/** How many runs a session has: the `seq` of its latest run. */
async function runCount(storage: StorageOf<SessionMode>, sessionId: string): Promise<number> {
  const { runs } = await storage.getRuns(sessionId, { order: "desc", limit: 1 });
  return runs[0]?.seq ?? 0;
}

/**
 * Reads every session of `storage` (a full scan, a page of 1 000 at a time) and each one's latest run; memory holds
 * one page and the user ids (and with `byUser` their counts).
 */
async function scan(
  storage: StorageOf<SessionMode>,
  options: { liveAfter: number | null; byUser: boolean },
): Promise<ModeStats> {
  const r: ModeStats = {
    sessions: 0,
    users: 0,
    withoutUser: 0,
    runs: 0,
    withRuns: 0,
    bytes: 0,
    largest: 0,
    oldest: null,
    newest: null,
    lastWrite: null,
    ...(options.liveAfter !== null ? { expired: 0 } : {}),
  };
  const users = new Map<string, Counts | null>();
  const encoder = new TextEncoder();
  for await (const sessions of sessionPages(storage, "createdAt", PAGE)) {
    const live = sessions.filter((s) => options.liveAfter === null || s.updatedAt > options.liveAfter);
    if (r.expired !== undefined) r.expired += sessions.length - live.length;
    const runs: number[] = [];
    for (let i = 0; i < live.length; i += PARALLEL) {
      runs.push(...await Promise.all(live.slice(i, i + PARALLEL).map((s) => runCount(storage, s.sessionId))));
    }
    for (const [i, s] of live.entries()) {
      const bytes = encoder.encode(JSON.stringify(s)).length;
      r.sessions++;
      r.runs += runs[i]!;
      if (runs[i]! > 0) r.withRuns++;
      r.bytes += bytes;
      r.largest = Math.max(r.largest, bytes);
      r.oldest ??= s.createdAt;
      r.newest = s.createdAt;
      r.lastWrite = Math.max(r.lastWrite ?? s.updatedAt, s.updatedAt);
      if (s.userId === null) {
        r.withoutUser++;
        continue;
      }
      if (!users.has(s.userId)) users.set(s.userId, options.byUser ? { sessions: 0, runs: 0, bytes: 0 } : null);
      const user = users.get(s.userId);
      if (user) {
        user.sessions++;
        user.runs += runs[i]!;
        user.bytes += bytes;
      }
    }
  }
  r.users = users.size;
  if (options.byUser) r.byUser = Object.fromEntries([...users].map(([id, counts]) => [id, counts!]));
  return r;
}

/** Users shown by `--by-user` in the human-readable output (`--json` has all of them). */
const TOP_USERS = 20;

function describe(mode: string, r: ModeStats, ttl: string | undefined): string[] {
  const lines: string[] = [];
  const expired = r.expired ? `; ${r.expired} more expired under --ttl ${ttl} (agentstate purge deletes them)` : "";
  if (r.sessions === 0) return [`${mode}: no sessions${expired}`];
  const users = `${r.users} user(s)${r.withoutUser ? ` and ${r.withoutUser} session(s) without a user` : ""}`;
  lines.push(`${mode}: ${r.sessions} session(s), ${users}${expired}`);
  lines.push(`  runs: ${r.runs} in ${r.withRuns} session(s)`);
  lines.push(`  size: ${size(r.bytes)} of session JSON, largest ${size(r.largest)} (runs not counted)`);
  lines.push(`  created ${time(r.oldest!)} … ${time(r.newest!)} UTC, last write ${time(r.lastWrite!)} UTC`);
  if (r.byUser) {
    const top = Object.entries(r.byUser).sort(([a, x], [b, y]) => y.sessions - x.sessions || (a < b ? -1 : 1));
    for (const [id, c] of top.slice(0, TOP_USERS)) {
      lines.push(printable(`  user ${id}: ${c.sessions} session(s), ${c.runs} run(s), ${size(c.bytes)}`));
    }
    if (top.length > TOP_USERS) lines.push(`  … and ${top.length - TOP_USERS} more user(s) (--json lists all)`);
  }
  return lines;
}

/** `stats <url> [--json] [--by-user] [--ttl D]`: per mode (every mode unless `--mode`), from a full scan. */
export async function stats(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    json: { type: "boolean", default: false },
    "by-user": { type: "boolean", default: false },
    ...TTL_OPTION,
  });
  if (positionals.length !== 1) throw new UsageError("stats takes one storage URL");
  const ttlMs = ttlOf(values);
  const modes = values.mode === undefined ? SESSION_MODES : [modeOf(values.mode)];
  const report: Record<string, ModeStats> = {};
  for (const mode of modes) {
    await using storage = await open(positionals[0], values, { mode, mustExist: true });
    const liveAfter = ttlMs === undefined ? null : Date.now() - ttlMs;
    report[mode] = await scan(storage, { liveAfter, byUser: values["by-user"] === true });
  }
  if (values.json) return print(JSON.stringify(report));
  for (const [mode, r] of Object.entries(report)) for (const line of describe(mode, r, str(values, "ttl"))) print(line);
  const read = Object.values(report).reduce((n, r) => n + r.sessions + (r.expired ?? 0), 0);
  print(`(a full scan: read ${read} session(s) and the latest run of each live one)`);
}
