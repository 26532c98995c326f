/**
 * {@linkcode openStorage}: picks a backend from a URL, so one string in a
 * config file or on a command line chooses where sessions live.
 *
 * @module
 */
import { ValidationError } from "../session/errors.ts";
import type { BaseStorageOptions, SessionInputOf, SessionMode, SessionOf, SessionStorage } from "../session/types.ts";

/** Options of {@linkcode openStorage}, beyond the URL. */
export interface OpenStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** Token for remote libSQL (`libsql:`, `http(s):`, `ws(s):`) or Upstash (`upstash+https:`). */
  token?: string;
  /** libSQL table name (see `LibsqlStorageOptions.table`). */
  table?: string;
  /** Upstash key prefix (see `UpstashRedisStorageOptions.prefix`). */
  prefix?: string;
}

/** A storage of mode `M`, whatever its backend. */
export type StorageOf<M extends SessionMode> = SessionStorage<SessionOf<M>, SessionInputOf<M>>;

/** The URL schemes {@linkcode openStorage} understands, for messages and docs. */
export const STORAGE_URL_FORMS: readonly string[] = [
  "memory:",
  ":memory:",
  "file:<path.db>",
  "libsql://<host>",
  "http(s)://<host>",
  "ws(s)://<host>",
  "json:<dir>",
  "upstash+https://<host>",
  "indexeddb:<dbName>",
];

function invalid(message: string): ValidationError {
  return new ValidationError([{ path: ["url"], message }]);
}

/**
 * Opens the storage a URL names: `memory:`; `:memory:`, `file:…`, `libsql://…`,
 * `http(s)://…`, `ws(s)://…` (libSQL); `json:<dir>` (JSON files);
 * `upstash+https://<host>` (Upstash Redis, `token` required); `indexeddb:<name>`
 * (browsers only). The backend's module is loaded only when chosen.
 *
 * @typeParam M The mode of the sessions held.
 * @param url Where the sessions live.
 * @param options Mode, TTL, clock and backend-specific settings.
 * @returns The storage; not yet connected (the first operation connects).
 *
 * @example In-process storage from a URL
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStorage } from "./open.ts";
 * await using storage = await openStorage("memory:", { mode: "team" });
 * assert.equal(storage.mode, "team");
 * ```
 */
export async function openStorage<M extends SessionMode = "agent">(
  url: string,
  options: OpenStorageOptions<M> = {},
): Promise<StorageOf<M>> {
  if (typeof url !== "string" || url === "") throw invalid("expected a storage URL");
  const { token, table, prefix, ...base } = options;
  const scheme = url === ":memory:" ? ":memory:" : /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case "memory": {
      const { MemoryStorage } = await import("./memory.ts");
      return new MemoryStorage<M>(base);
    }
    case ":memory:":
    case "file":
    case "libsql":
    case "http":
    case "https":
    case "ws":
    case "wss": {
      const { LibsqlStorage } = await import("./libsql.ts");
      return new LibsqlStorage<M>({
        ...base,
        url,
        ...(token ? { authToken: token } : {}),
        ...(table ? { table } : {}),
      });
    }
    case "json": {
      const dir = url.slice("json:".length).replace(/^\/\/(?=\/)/, "");
      if (dir === "") throw invalid('expected a directory after "json:", e.g. "json:./sessions"');
      const { JsonStorage } = await import("./json.ts");
      return new JsonStorage<M>({ ...base, dir });
    }
    case "upstash+https":
    case "upstash+http": {
      if (!token) {
        throw invalid("an upstash+https:// URL needs a token (options.token, or UPSTASH_REDIS_REST_TOKEN in the CLI)");
      }
      const { UpstashRedisStorage } = await import("./upstash.ts");
      return new UpstashRedisStorage<M>({
        ...base,
        url: url.slice("upstash+".length),
        token,
        ...(prefix ? { prefix } : {}),
      });
    }
    case "indexeddb": {
      if (!(globalThis as { indexedDB?: unknown }).indexedDB) {
        throw invalid("indexeddb: URLs work only where IndexedDB exists (a browser); use json: or file: here");
      }
      const { IndexedDbStorage } = await import("./indexeddb.ts");
      const dbName = url.slice("indexeddb:".length) || "agentstate";
      return new IndexedDbStorage<M>({ ...base, dbName });
    }
    default:
      throw invalid(
        `unknown storage URL ${JSON.stringify(url.length > 80 ? url.slice(0, 80) + "…" : url)}; ` +
          `expected one of ${STORAGE_URL_FORMS.join(", ")}`,
      );
  }
}
