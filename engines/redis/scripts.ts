/**
 * Each Lua script of `lua.ts` with its typed argument encoder and reply
 * decoder, so the engine passes named fields and reads named results.
 *
 * @module
 */
import type { ListQuery } from "../../session/list.ts";
import type { RedisReply, RedisScript } from "./client.ts";
import type { RedisKeys } from "./keys.ts";
import * as lua from "./lua.ts";

/** A stored hash, field to value; empty when the key is absent. */
export type StoredHash = Record<string, string>;

/** What every call names: the storage's keys. */
interface Base {
  /** The storage's key names. */
  k: RedisKeys;
}

/** What every write names besides: its operation id (the same when the request is sent again). */
interface Write extends Base {
  /** The operation id. */
  op: string;
}

/** A session as the scripts store it. */
export interface ScriptSession {
  /** Its id. */
  id: string;
  /** Owner, name, entity (`null` when unset). */
  userId: string | null;
  /** Name. */
  sessionName: string | null;
  /** Entity id. */
  entityId: string | null;
  /** The other fields as JSON text (field `d`). */
  json: string;
}

/** What the scripts return about a stored session that refused a write. */
export interface Refusal {
  /** The live stored session's version, `0` when absent. */
  version: number;
  /** Its owner. */
  userId: string | null;
}

function fail(script: string, reply: RedisReply): never {
  throw new Error(`unexpected reply from the ${script} script: ${JSON.stringify(reply)?.slice(0, 80)}`);
}

function array(script: string, reply: RedisReply): RedisReply[] {
  return Array.isArray(reply) ? reply : fail(script, reply);
}

function int(script: string, reply: RedisReply | undefined): number {
  const n = typeof reply === "number" ? reply : typeof reply === "string" ? Number(reply) : NaN;
  return Number.isSafeInteger(n) ? n : fail(script, reply ?? null);
}

function text(script: string, reply: RedisReply | undefined): string {
  return typeof reply === "string" ? reply : typeof reply === "number" ? String(reply) : fail(script, reply ?? null);
}

/** `null` as "", a value behind its `=` marker. */
const optional = (value: string | null | undefined): string => value == null ? "" : "=" + value;

function unmark(script: string, reply: RedisReply | undefined): string | null {
  const value = text(script, reply);
  return value === "" ? null : value.startsWith("=") ? value.slice(1) : fail(script, reply ?? null);
}

const num = (n: number | null | undefined): string => n == null ? "" : String(n);

/** A flat `HGETALL` reply as a record. */
function hash(script: string, reply: RedisReply): StoredHash {
  const list = array(script, reply);
  const out: StoredHash = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[text(script, list[i])] = text(script, list[i + 1]);
  return out;
}

function script<I, O>(
  name: string,
  source: string,
  encode: (input: I) => { keys: string[]; args: string[] },
  decode: (reply: RedisReply, name: string) => O,
): RedisScript<I, O> {
  return { name, source, encode, decode: (reply) => decode(reply, name) };
}

function writeKeys(input: Write, own: string[]): string[] {
  return [...input.k.ops(), ...input.k.globals(), ...own];
}

function sessionArgs(s: ScriptSession): string[] {
  return [s.id, optional(s.userId), optional(s.sessionName), optional(s.entityId), s.json];
}

/** Reads a session's hash. */
export const READ: RedisScript<Base & { id: string }, StoredHash> = script(
  "read",
  lua.READ,
  ({ k, id }) => ({ keys: [k.session(id)], args: [] }),
  (reply, name) => hash(name, reply),
);

/** The times and version a write gave one session. */
export interface Stamp {
  /** `createdAt`. */
  createdAt: number;
  /** `updatedAt`. */
  updatedAt: number;
  /** `version`. */
  version: number;
}

/** Upserts a batch: every session's stamps, or the first refusal with what was stored. */
export const UPSERT: RedisScript<
  Write & {
    now: number;
    liveAfter: number | null;
    expectedVersion?: number;
    ttlMs: number | null;
    sessions: ScriptSession[];
  },
  { ok: true; stamps: Stamp[] } | { ok: false; index: number; stored: Refusal }
> = script("upsert", lua.UPSERT, (i) => ({
  keys: writeKeys(i, i.sessions.flatMap((s) => i.k.ofSession(s.id, s.userId, s.entityId))),
  args: [
    i.k.prefix,
    i.op,
    String(i.now),
    num(i.liveAfter),
    num(i.expectedVersion),
    num(i.ttlMs),
    String(i.sessions.length),
    ...i.sessions.flatMap(sessionArgs),
  ],
}), (reply, name) => {
  const [kind, ...rest] = array(name, reply);
  if (kind === "refused") {
    return {
      ok: false,
      index: int(name, rest[0]),
      stored: { version: int(name, rest[1]), userId: unmark(name, rest[2]) },
    };
  }
  if (kind !== "ok" || rest.length % 3 !== 0) fail(name, reply);
  const stamps: Stamp[] = [];
  for (let i = 0; i < rest.length; i += 3) {
    stamps.push({ createdAt: int(name, rest[i]), updatedAt: int(name, rest[i + 1]), version: int(name, rest[i + 2]) });
  }
  return { ok: true, stamps };
});

/** Deletes a live session (of the user, when given): whether one was deleted. */
export const DELETE: RedisScript<Write & { id: string; userId?: string; liveAfter: number | null }, boolean> = script(
  "delete",
  lua.DELETE,
  (i) => ({
    keys: writeKeys(i, [i.k.session(i.id), i.k.runs(i.id)]),
    args: [i.k.prefix, i.op, i.id, optional(i.userId), num(i.liveAfter)],
  }),
  (reply, name) => int(name, reply) === 1,
);

/** Renames a live session: its new hash, or `null` when none was renamed. */
export const RENAME: RedisScript<
  Write & {
    id: string;
    sessionName: string | null;
    userId?: string;
    liveAfter: number | null;
    now: number;
    ttlMs: number | null;
  },
  StoredHash | null
> = script("rename", lua.RENAME, (i) => ({
  keys: writeKeys(i, [i.k.session(i.id), i.k.runs(i.id)]),
  args: [
    i.k.prefix,
    i.op,
    i.id,
    optional(i.sessionName),
    optional(i.userId),
    num(i.liveAfter),
    String(i.now),
    num(i.ttlMs),
  ],
}), (reply, name) => reply === null ? null : hash(name, reply));

/** Appends runs: the new version and run count, `notfound`, or a refusal with what was stored. */
export const APPEND_RUNS: RedisScript<
  Write & {
    id: string;
    userId: string | null;
    liveAfter: number | null;
    now: number;
    expectedVersion?: number;
    ttlMs: number | null;
    runs: string[];
  },
  { kind: "ok"; version: number; runCount: number } | { kind: "notfound" } | { kind: "refused"; stored: Refusal }
> = script("appendRuns", lua.APPEND_RUNS, (i) => ({
  keys: writeKeys(i, [i.k.session(i.id), i.k.runs(i.id)]),
  args: [
    i.k.prefix,
    i.op,
    i.id,
    optional(i.userId),
    num(i.liveAfter),
    String(i.now),
    num(i.expectedVersion),
    num(i.ttlMs),
    ...i.runs,
  ],
}), (reply, name) => {
  const [kind, a, b] = array(name, reply);
  if (kind === "ok") return { kind, version: int(name, a), runCount: int(name, b) };
  if (kind === "notfound") return { kind };
  if (kind === "refused") return { kind, stored: { version: int(name, a), userId: unmark(name, b) } };
  return fail(name, reply);
});

/** A page of a run log: the seqs asked for and the entries read (in list order). */
export const GET_RUNS: RedisScript<
  Base & {
    id: string;
    userId?: string;
    liveAfter: number | null;
    afterSeq: number | null;
    count: number;
    order: "asc" | "desc";
  },
  { first: number; last: number; entries: string[] }
> = script("getRuns", lua.GET_RUNS, (i) => ({
  keys: [i.k.session(i.id), i.k.runs(i.id)],
  args: [i.k.prefix, i.id, optional(i.userId), num(i.liveAfter), num(i.afterSeq), String(i.count), i.order],
}), (reply, name) => {
  const [first, last, entries] = array(name, reply);
  return { first: int(name, first), last: int(name, last), entries: array(name, entries!).map((e) => text(name, e)) };
});

/** One list page: the checked query, the index walked, and the range of index members to walk. */
export interface ListInput extends Base {
  /** The checked query (filters, order, page size, expiry bound). */
  query: ListQuery;
  /** The index key. */
  index: string;
  /** Lexicographic lower bound of index members (`-`, `[…`, `(…`). */
  low: string;
  /** Upper bound (`+`, `(…`). */
  high: string;
}

/** A page of sessions from an index: each id with its hash. */
export const LIST: RedisScript<ListInput, { sessionId: string; hash: StoredHash }[]> = script(
  "list",
  lua.LIST,
  ({ k, query: q, index, low, high }) => ({
    keys: [index],
    args: [
      k.prefix,
      q.order,
      String(q.limit + 1),
      low,
      high,
      q.sortBy === "createdAt" ? "c" : "m",
      optional(q.userId),
      optional(q.entityId),
      optional(q.sessionName),
      num(q.createdAfter),
      num(q.createdBefore),
      num(q.updatedAfter),
      num(q.updatedBefore),
      num(q.liveAfter),
    ],
  }),
  (reply, name) => {
    const list = array(name, reply);
    const out: { sessionId: string; hash: StoredHash }[] = [];
    for (let i = 0; i + 1 < list.length; i += 2) {
      out.push({ sessionId: unmark(name, list[i]) ?? fail(name, reply), hash: hash(name, list[i + 1]!) });
    }
    return out;
  },
);

/** One session to restore, with its stamps and runs' JSON. */
export interface ImportEntry extends ScriptSession, Stamp {
  /** The run records' JSON, seq 1 first. */
  runs: string[];
}

/** Restores sessions: counts, or the first live session that makes a `fail` import conflict. */
export const IMPORT: RedisScript<
  Write & { onConflict: string; liveAfter: number | null; ttlMs: number | null; entries: ImportEntry[] },
  { ok: true; imported: number; skipped: number } | { ok: false; sessionId: string; version: number }
> = script("import", lua.IMPORT, (i) => ({
  keys: writeKeys(i, i.entries.flatMap((e) => i.k.ofSession(e.id, e.userId, e.entityId))),
  args: [
    i.k.prefix,
    i.op,
    i.onConflict,
    num(i.liveAfter),
    num(i.ttlMs),
    String(i.entries.length),
    ...i.entries.flatMap((e) => [
      ...sessionArgs(e),
      String(e.createdAt),
      String(e.updatedAt),
      String(e.version),
      String(e.runs.length),
      ...e.runs,
    ]),
  ],
}), (reply, name) => {
  const [kind, a, b] = array(name, reply);
  if (kind === "ok") return { ok: true, imported: int(name, a), skipped: int(name, b) };
  if (kind === "conflict") return { ok: false, sessionId: text(name, a), version: int(name, b) };
  return fail(name, reply);
});

/** Purges up to `batch` expired sessions: how many were purged and how many index entries scanned. */
export const PURGE: RedisScript<Write & { liveAfter: number; batch: number }, { purged: number; scanned: number }> =
  script("purge", lua.PURGE, (i) => ({
    keys: writeKeys(i, []),
    args: [i.k.prefix, i.op, String(i.liveAfter), String(i.batch)],
  }), (reply, name) => {
    const [purged, scanned] = array(name, reply);
    return { purged: int(name, purged), scanned: int(name, scanned) };
  });

/** Drops up to `batch` sessions (then the indexes): how many were removed. */
export const DROP: RedisScript<Base & { batch: number }, number> = script(
  "drop",
  lua.DROP,
  ({ k, batch }) => ({ keys: [...k.globals(), ...k.ops()], args: [k.prefix, String(batch)] }),
  (reply, name) => int(name, reply),
);
