/**
 * The run-log scripts of `lua_runs.ts` with their typed encoders and
 * decoders, and the run record's text (written in the fixed field order the
 * scripts read by position).
 *
 * @module
 */
import type { NewRun, StoredRun } from "../../session/driver.ts";
import { CorruptRecordError } from "../../session/errors.ts";
import { parseStoredObject } from "../../session/stored.ts";
import type { RedisReply, RedisScript } from "./client.ts";
import * as lua from "./lua_runs.ts";
import { array, fail, int, num, optional, script, text, unmark } from "./reply.ts";
import { type Base, type Refusal, type ScriptSession, type Write, writeKeys } from "./scripts.ts";

/** A run record's text after its seq: `,"createdAt":…,"digest":…,"key":…,"run":…}`. */
export function runTail(run: NewRun, now: number): string {
  const createdAt = run.createdAt ?? now;
  return `,"createdAt":${createdAt},"digest":${JSON.stringify(run.digest)},"key":${JSON.stringify(run.key)},"run":${
    JSON.stringify(run.run)
  }}`;
}

/** A whole run record's text, as the scripts write it. */
export function runEntry(run: StoredRun): string {
  return `{"seq":${run.seq}${runTail(run, run.createdAt)}`;
}

/** The run record `entry` read at `seq` of the list at `location`; layout 1 records (no key, no digest) read as unkeyed. */
export function decodeRun(entry: string, seq: number, location: string): StoredRun {
  const at = `${location} run ${seq}`;
  const record = parseStoredObject(entry, at, "the run record");
  const { run, createdAt } = record;
  const key = record.key ?? null;
  const digest = record.digest ?? null;
  if (
    record.seq !== seq || !Number.isSafeInteger(createdAt) || typeof run !== "object" || run === null ||
    Array.isArray(run) || (key !== null && typeof key !== "string") || (digest !== null && typeof digest !== "string")
  ) {
    throw new CorruptRecordError(at, "not a run record of this position");
  }
  return { seq, key, digest, createdAt: createdAt as number, run };
}

/** A run as the append and edit scripts take it. */
function runArgs(runs: NewRun[], now: number): string[] {
  return [String(runs.length), ...runs.flatMap((r) => [optional(r.key), r.digest ?? "", runTail(r, now)])];
}

/** A changed `sessionName` or entity: "" unchanged, "-" null, "=" + value. */
function patched(fields: Record<string, unknown>, name: string): string {
  if (!Object.hasOwn(fields, name)) return "";
  const value = fields[name];
  return value === null ? "-" : "=" + String(value);
}

/** What a run-log write returns. */
export type RunWriteResult =
  | { kind: "ok"; version: number; runCount: number }
  | { kind: "notfound" }
  | { kind: "refused"; stored: Refusal }
  | { kind: "conflict"; version: number; key: string; seq: number | null };

function runWriteResult(reply: RedisReply, name: string): RunWriteResult {
  const [kind, a, b, c] = array(name, reply);
  if (kind === "ok") return { kind, version: int(name, a), runCount: int(name, b) };
  if (kind === "notfound") return { kind };
  if (kind === "refused") return { kind, stored: { version: int(name, a), userId: unmark(name, b) } };
  if (kind === "conflict") {
    return {
      kind,
      version: int(name, a),
      key: unmark(name, b) ?? fail(name, b!),
      seq: c == null ? null : int(name, c),
    };
  }
  return fail(name, reply);
}

/** What an append writes besides its runs. */
export interface AppendInput extends Write {
  /** The session. */
  id: string;
  /** The appender (`null`: only an unowned session accepts). */
  userId: string | null;
  /** Stored sessions with `updatedAt <= liveAfter` count as absent. */
  liveAfter: number | null;
  /** The write's time. */
  now: number;
  /** The version the session must have. */
  expectedVersion?: number;
  /** The storage's TTL. */
  ttlMs: number | null;
  /** The session to create when absent or expired. */
  create: ScriptSession | null;
  /** Changed fields: `sessionName`, the entity field (under `entity`), and the others' JSON by name. */
  patch: { named: Record<string, unknown>; entity: string; json: Record<string, unknown> };
  /** The runs. */
  runs: NewRun[];
}

/** Appends runs (keyed replays skipped), patching or creating the session, in one script. */
export const APPEND_RUNS: RedisScript<AppendInput, RunWriteResult> = script("appendRuns", lua.APPEND_RUNS, (i) => {
  const json = Object.entries(i.patch.json);
  const entity = i.create?.entityId ??
    (typeof i.patch.named[i.patch.entity] === "string" ? i.patch.named[i.patch.entity] as string : null);
  const c = i.create;
  return {
    keys: writeKeys(i, i.k.ofSession(i.id, c?.userId ?? i.userId, entity)),
    args: [
      i.k.prefix,
      i.op,
      i.id,
      optional(i.userId),
      num(i.liveAfter),
      String(i.now),
      num(i.expectedVersion),
      num(i.ttlMs),
      c === null ? "" : "1",
      optional(c?.userId),
      optional(c?.sessionName),
      optional(c?.entityId),
      c?.json ?? "",
      patched(i.patch.named, "sessionName"),
      patched(i.patch.named, i.patch.entity),
      String(json.length),
      ...json.flatMap(([name, value]) => [JSON.stringify(name), JSON.stringify(value)]),
      ...runArgs(i.runs, i.now),
    ],
  };
}, runWriteResult);

/** Rewrites the tail of a log at the expected version, in one script. */
export const EDIT_RUNS: RedisScript<
  Write & {
    id: string;
    userId: string | null;
    liveAfter: number | null;
    now: number;
    expectedVersion: number;
    ttlMs: number | null;
    keepThrough: number;
    runs: NewRun[];
  },
  RunWriteResult
> = script("editRuns", lua.EDIT_RUNS, (i) => ({
  keys: writeKeys(i, i.k.ofSession(i.id, i.userId, null)),
  args: [
    i.k.prefix,
    i.op,
    i.id,
    optional(i.userId),
    num(i.liveAfter),
    String(i.now),
    String(i.expectedVersion),
    num(i.ttlMs),
    String(i.keepThrough),
    ...runArgs(i.runs, i.now),
  ],
}), runWriteResult);

/** Whose runs are read. */
interface Owned extends Base {
  /** The session. */
  id: string;
  /** Only when the session is this user's. */
  userId?: string;
  /** Stored sessions with `updatedAt <= liveAfter` count as absent. */
  liveAfter: number | null;
}

/** A page of a run log: the seqs read and the entries (in list order). */
export const GET_RUNS: RedisScript<
  Owned & { seqAbove: number | null; seqBelow: number | null; count: number; order: "asc" | "desc" },
  { first: number; last: number; entries: string[] }
> = script("getRuns", lua.GET_RUNS, (i) => ({
  keys: [i.k.session(i.id), i.k.runs(i.id)],
  args: [
    i.k.prefix,
    i.id,
    optional(i.userId),
    num(i.liveAfter),
    num(i.seqAbove),
    num(i.seqBelow),
    String(i.count),
    i.order,
  ],
}), (reply, name) => {
  const [first, last, entries] = array(name, reply);
  return { first: int(name, first), last: int(name, last), entries: array(name, entries!).map((e) => text(name, e)) };
});

/** The run stored under a key: its seq and record, or `null`. */
export const GET_RUN: RedisScript<Owned & { key: string }, { seq: number; entry: string } | null> = script(
  "getRun",
  lua.GET_RUN,
  (i) => ({
    keys: [i.k.session(i.id), i.k.runs(i.id), i.k.runKeys(i.id)],
    args: [i.k.prefix, i.id, optional(i.userId), num(i.liveAfter), i.key],
  }),
  (reply, name) => {
    const [seq, entry] = array(name, reply);
    return seq === undefined ? null : { seq: int(name, seq), entry: text(name, entry) };
  },
);
