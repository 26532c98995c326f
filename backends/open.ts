/**
 * {@linkcode openStorage}: picks a backend from a URL, so one string in a
 * config file or on a command line chooses where sessions live.
 *
 * @module
 */
import { findBackend, invalidUrl, urlForms } from "./registry.ts";
import type {
  BaseStorageOptions,
  JsonObject,
  SessionMode,
  SessionStorage,
  TypedInput,
  TypedSession,
} from "../session/types.ts";

/** Options of {@linkcode openStorage}, beyond the URL. */
export interface OpenStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** Token for remote libSQL (`libsql:`, `http(s):`, `ws(s):`) or Upstash (`upstash+https:`). */
  token?: string;
  /** libSQL table name (see `LibsqlStorageOptions.table`). */
  table?: string;
  /** Upstash key prefix (see `UpstashRedisStorageOptions.prefix`). */
  prefix?: string;
  /**
   * Open for reading only: a libSQL file opens read-only (it works on read-only media and never migrates; writes
   * throw). Other backends ignore it.
   */
  readOnly?: boolean;
}

/** A storage of mode `M`, whatever its backend, with `memory`, `sessionData` and runs typed as given. */
export type StorageOf<M extends SessionMode, Memory = JsonObject, Data = JsonObject, Run = JsonObject> = SessionStorage<
  TypedSession<M, Memory, Data>,
  TypedInput<M, Memory, Data>,
  Run
>;

/** The URL forms {@linkcode openStorage} understands, for messages and docs (read from the registry). */
export const STORAGE_URL_FORMS: readonly string[] = urlForms();

/**
 * Opens the storage a URL names: `memory:`; `:memory:`, `file:…`, `libsql://…`,
 * `http(s)://…`, `ws(s)://…` (libSQL); `json:<dir>` (JSON files);
 * `upstash+https://<host>` (Upstash Redis, `token` required); `indexeddb:<name>`
 * (browsers only). The backends are those of the registry (`BACKENDS`); a
 * backend's module is loaded only when chosen.
 *
 * @typeParam M The mode of the sessions held.
 * @typeParam Memory What `memory` holds (a JSON object unless given; not checked at run time: pass `schemas` for that).
 * @typeParam Data What `sessionData` holds (a JSON object unless given).
 * @typeParam Run What a run holds (a JSON object unless given).
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
export async function openStorage<
  M extends SessionMode = "agent",
  Memory = JsonObject,
  Data = JsonObject,
  Run = JsonObject,
>(
  url: string,
  options: OpenStorageOptions<M> = {},
): Promise<StorageOf<M, Memory, Data, Run>> {
  if (typeof url !== "string" || url === "") throw invalidUrl("expected a storage URL");
  const backend = findBackend(url);
  if (!backend) {
    throw invalidUrl(
      `unknown storage URL ${JSON.stringify(url.length > 80 ? url.slice(0, 80) + "…" : url)}; ` +
        `expected one of ${STORAGE_URL_FORMS.join(", ")}`,
    );
  }
  const why = backend.unavailable?.();
  if (why) throw invalidUrl(why);
  if (backend.needsToken && !options.token) {
    const env = backend.tokenEnv ? `, or ${backend.tokenEnv} in the CLI` : "";
    throw invalidUrl(`${backend.name} URLs need a token (options.token${env})`);
  }
  // The content types are the caller's promise (checked at run time only by `schemas`), as with a backend's class.
  return await backend.open(url, options) as unknown as StorageOf<M, Memory, Data, Run>;
}
