/**
 * Key names of the Redis layout (see `lua.ts` for the layout), built in
 * TypeScript so that every script can declare the keys it touches in `KEYS`.
 * The Lua side builds the same names (`enc`, `skey`, `rkey` in the prelude)
 * only for keys found while the script runs (a stored user's index, the
 * sessions of an index page); all of them start with the storage's hash tag,
 * so they hash to the slot of the declared keys, which is what Redis Cluster
 * requires of keys a script did not declare.
 *
 * @module
 */
import { MAX_TIME } from "../../session/_schemas.ts";

/** Percent-encodes every byte outside `A-Za-z0-9-._~`, as the scripts' `enc` does. */
export function encodeKeyPart(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : "%" + byte.toString(16).padStart(2, "0");
  }
  return out;
}

/** A time as the 15-digit text of index members, clamped to `0..MAX_TIME` (range bounds may lie outside). */
export function pad(n: number): string {
  return String(Math.min(Math.max(0, n), MAX_TIME)).padStart(15, "0");
}

/** The keys of one storage, under `{<prefix>}:<mode>:` (layout 3; `<prefix>:<mode>:` before). */
export class RedisKeys {
  /** The start of every key: `{<prefix>}:<mode>:`, one hash tag, so all keys are on one slot. */
  readonly prefix: string;

  /** Keys under `prefix`. */
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The layout version marker (`layout.ts`). */
  layout(): string {
    return `${this.prefix}layout`;
  }

  /** The session hash. */
  session(id: string): string {
    return `${this.prefix}s:${encodeKeyPart(id)}`;
  }

  /** The run list. */
  runs(id: string): string {
    return `${this.prefix}r:${encodeKeyPart(id)}`;
  }

  /** The hash of run keys to their seqs (absent in layout 1 and while no run has a key). */
  runKeys(id: string): string {
    return `${this.prefix}k:${encodeKeyPart(id)}`;
  }

  /** The hash of recent write results by operation id, and the sorted set of their times. */
  ops(): [string, string] {
    return [`${this.prefix}o`, `${this.prefix}ot`];
  }

  /** The storage-wide indexes (by createdAt, by updatedAt) and the set of per-user/entity indexes. */
  globals(): string[] {
    return [`${this.prefix}x:c`, `${this.prefix}x:u`, `${this.prefix}x:keys`];
  }

  /** An index: `c`/`u` (all sessions), `uc`/`uu:<user>`, `ec`/`eu:<entity>`. */
  index(kind: "c" | "u" | "uc" | "uu" | "ec" | "eu", owner?: string): string {
    return owner === undefined ? `${this.prefix}x:${kind}` : `${this.prefix}x:${kind}:${encodeKeyPart(owner)}`;
  }

  /** The session's own keys and the indexes its user and entity put it in. */
  ofSession(id: string, userId: string | null, entityId: string | null): string[] {
    const keys = [this.session(id), this.runs(id), this.runKeys(id)];
    if (userId !== null) keys.push(this.index("uc", userId), this.index("uu", userId));
    if (entityId !== null) keys.push(this.index("ec", entityId), this.index("eu", entityId));
    return keys;
  }
}
