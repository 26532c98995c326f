/**
 * How a session and a run are laid out in IndexedDB, and read back.
 *
 * A session record keeps as real values the fields the indexes and the
 * listing filter read (ids, name, entity id, times, version), plus `k`, the
 * id as code points (the indexes' tie-breaker), and `runCount`; the rest of
 * the session is one JSON string, `data`: structured cloning would recurse
 * through deeply nested values (and overflow near 10 000 levels), and a
 * string clones faster. Layout 1 kept every field inline and had no
 * `runCount`; it is still read. A run record is `{ sessionId, seq,
 * createdAt, run }` with `run` as JSON text.
 *
 * @module
 */
import type { KvRecord } from "../../engines/kv.ts";
import { CorruptRecordError } from "../../session/errors.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import { parseStoredSession } from "../../session/parse.ts";
import { parseStoredObject } from "../../session/stored.ts";
import type { StoredRun } from "../../session/driver.ts";
import type { SessionMode, SessionOf } from "../../session/types.ts";
import { codePoints } from "./idb.ts";

/** Fields kept as real values (indexed or filtered on); the rest is JSON text in `data`. */
function plainFields(mode: SessionMode): string[] {
  return ["sessionId", "userId", "sessionName", MODE_FIELDS[mode].entity, "createdAt", "updatedAt", "version"];
}

/** Where a record is, for error messages: `db/store/key`. */
export function locate(dbName: string, store: string, key: unknown): string {
  return `${dbName}/${store}/${JSON.stringify(key)}`;
}

/** The stored session record of `record`. */
export function encodeRecord<M extends SessionMode>(mode: M, record: KvRecord<M>): Record<string, unknown> {
  const { session, runCount } = record;
  const out: Record<string, unknown> = { k: codePoints(session.sessionId), runCount };
  const data: Record<string, unknown> = {};
  const plain = plainFields(mode);
  for (const [name, value] of Object.entries(session)) (plain.includes(name) ? out : data)[name] = value;
  out.data = JSON.stringify(data);
  return out;
}

/** The session of a stored record (either layout), or a `CorruptRecordError` naming `location`. */
export function decodeSession<M extends SessionMode>(
  mode: M,
  stored: Record<string, unknown>,
  location: string,
): SessionOf<M> {
  const data = stored.data === undefined ? stored : parseStoredObject(stored.data, location, "the session's data");
  const plain = plainFields(mode);
  const out: Record<string, unknown> = {};
  for (const name of MODE_FIELDS[mode].all) out[name] = plain.includes(name) ? stored[name] : data[name];
  return parseStoredSession(mode, out, location);
}

/** The session and run count of a stored record (layout 1 has no runs: 0). */
export function decodeRecord<M extends SessionMode>(
  mode: M,
  stored: Record<string, unknown>,
  location: string,
): KvRecord<M> {
  const session = decodeSession(mode, stored, location);
  const runCount = stored.runCount ?? 0;
  if (!Number.isSafeInteger(runCount) || (runCount as number) < 0) {
    throw new CorruptRecordError(location, "runCount is not a non-negative integer");
  }
  return { session, runCount: runCount as number };
}

/** The stored run record of `run`. */
export function encodeRun(sessionId: string, run: StoredRun): Record<string, unknown> {
  const { seq, key, digest, createdAt } = run;
  return { sessionId, seq, key, digest, createdAt, run: JSON.stringify(run.run) };
}

/** The run of a stored run record, or a `CorruptRecordError` naming `location`. */
export function decodeRun(stored: Record<string, unknown>, location: string): StoredRun {
  const { seq, createdAt } = stored;
  if (!Number.isSafeInteger(createdAt) || (createdAt as number) < 0) {
    throw new CorruptRecordError(location, "the run's createdAt is not epoch milliseconds");
  }
  const key = stored.key ?? null; // runs stored before keys have neither field
  const digest = stored.digest ?? null;
  if ((key !== null && typeof key !== "string") || (digest !== null && typeof digest !== "string")) {
    throw new CorruptRecordError(location, "the run's key or digest is not a string");
  }
  return {
    seq: seq as number,
    key: key as string | null,
    digest: digest as string | null,
    createdAt: createdAt as number,
    run: parseStoredObject(stored.run, location, "the run"),
  };
}
