/**
 * Each Lua script of `lua.ts` with its typed argument encoder and reply
 * decoder, so the engine passes named fields and reads named results.
 *
 * @module
 */
import type { ListQuery } from "../../session/list.ts";
import type { RedisScript } from "./client.ts";
import { array, fail, hash, int, num, optional, script, text, unmark } from "./reply.ts";
import type { RedisKeys } from "./keys.ts";
import * as lua from "./lua.ts";

export type { StoredHash } from "./reply.ts";
import type { StoredHash } from "./reply.ts";

/** What every call names: the storage's keys. */
export interface Base {
  /** The storage's key names. */
  k: RedisKeys;
}

/** What every write names besides: its operation id (the same when the request is sent again). */
export interface Write extends Base {
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

/** The keys every write declares (the operation log, the global indexes) and `own`. */
export function writeKeys(input: Write, own: string[]): string[] {
  return [...input.k.ops(), ...input.k.globals(), ...own];
}

/** A session's script arguments: id, user, name, entity (marked), JSON. */
export function sessionArgs(s: ScriptSession): string[] {
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
    keys: writeKeys(i, [i.k.session(i.id), i.k.runs(i.id), i.k.runKeys(i.id)]),
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
  keys: writeKeys(i, [i.k.session(i.id), i.k.runs(i.id), i.k.runKeys(i.id)]),
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
  /** The runs' keys and records (JSON text), seq 1 first. */
  runs: { key: string | null; entry: string }[];
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
      ...e.runs.flatMap((r) => [optional(r.key), r.entry]),
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
  ({ k, batch }) => ({ keys: [...k.globals(), ...k.ops(), k.layout()], args: [k.prefix, String(batch)] }),
  (reply, name) => int(name, reply),
);
