/**
 * A stored session hash (see `lua.ts`) back into a session, or a
 * `CorruptRecordError` naming the key when any field is not what the
 * scripts write.
 *
 * @module
 */
import { CorruptRecordError } from "../../session/errors.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import { parseStoredSession } from "../../session/parse.ts";
import { parseStoredObject } from "../../session/stored.ts";
import type { SessionMode, SessionOf } from "../../session/types.ts";
import type { StoredHash } from "./scripts.ts";

/** A `u`, `n` or `e` field: absent is `null`, present must carry its `=` marker. */
function marked(hash: StoredHash, field: string, location: string): string | null {
  const value = hash[field];
  if (value === undefined) return null;
  if (!value.startsWith("=")) throw new CorruptRecordError(location, `field ${field} lacks its "=" marker`);
  return value.slice(1);
}

/** A `c`, `m` or `v` field: decimal digits. */
function integer(hash: StoredHash, field: string, location: string): number {
  const value = hash[field];
  if (value === undefined || !/^\d{1,16}$/.test(value)) {
    throw new CorruptRecordError(location, `field ${field} is not a whole number`);
  }
  return Number(value);
}

/** The session stored in `hash` at `location`, `null` for an empty hash (no such key). */
export function decodeSession<M extends SessionMode>(
  mode: M,
  sessionId: string,
  hash: StoredHash,
  location: string,
): SessionOf<M> | null {
  if (Object.keys(hash).length === 0) return null;
  const content = parseStoredObject(hash.d, `${location} field d`, "the session content");
  const f = MODE_FIELDS[mode];
  const record: Record<string, unknown> = {};
  for (const name of f.all) {
    if (name === "sessionId") record[name] = sessionId;
    else if (name === "userId") record[name] = marked(hash, "u", location);
    else if (name === "sessionName") record[name] = marked(hash, "n", location);
    else if (name === f.entity) record[name] = marked(hash, "e", location);
    else if (name === "createdAt") record[name] = integer(hash, "c", location);
    else if (name === "updatedAt") record[name] = integer(hash, "m", location);
    else if (name === "version") record[name] = integer(hash, "v", location);
    else if (!Object.hasOwn(content, name)) {
      throw new CorruptRecordError(location, `field d lacks ${JSON.stringify(name)}`);
    } else record[name] = content[name];
  }
  return parseStoredSession(mode, record, location);
}
