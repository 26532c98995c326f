/**
 * agentstate: save and load AI-agent sessions (agent, team and workflow
 * sessions with their memory and state) on libSQL/SQLite, JSON files, Upstash
 * Redis, IndexedDB or memory, with one behaviour on every backend.
 *
 * Importing this module needs no permissions and loads no driver: each backend
 * loads its client on first use. It exports what a user of the library needs:
 * the backends, {@linkcode openStorage}, the session types, the errors and the
 * option types. Helpers for writing a backend live in `@agentstate/storage/backend`.
 *
 * @example Save, read and list
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStorage } from "./mod.ts";
 *
 * await using storage = new MemoryStorage({ mode: "agent" });
 * await storage.upsert({ sessionId: "chat-1", userId: "ada", memory: { turns: [] } });
 * const session = await storage.read("chat-1", "ada");
 * assert.equal(session?.version, 1);
 * const page = await storage.listSessions({ userId: "ada", limit: 10 });
 * assert.deepEqual(page.sessions.map((s) => s.sessionId), ["chat-1"]);
 * ```
 *
 * @module
 */
export * from "./session/types.ts";
export {
  ConflictError,
  CorruptRecordError,
  RunConflictError,
  SessionNotFoundError,
  StorageError,
  type StorageErrorOptions,
  UserMismatchError,
  ValidationError,
  type ValidationIssue,
} from "./session/errors.ts";
export { DecryptionError, type EncryptionKey } from "./session/encryption.ts";
export { MAX_PAGE_SIZE } from "./session/list.ts";
export { MemoryStorage, type MemoryStorageOptions } from "./backends/memory.ts";
export {
  LIBSQL_SCHEMA_VERSION,
  type LibsqlClientLike,
  LibsqlStorage,
  type LibsqlStorageOptions,
} from "./backends/libsql.ts";
export { JsonStorage, type JsonStorageOptions } from "./backends/json.ts";
export { type UpstashRedisLike, UpstashRedisStorage, type UpstashRedisStorageOptions } from "./backends/upstash.ts";
export {
  type IndexedDbFactory,
  IndexedDbStorage,
  type IndexedDbStorageOptions,
  type KeyRangeStatic,
} from "./backends/indexeddb.ts";
export { openStorage, type OpenStorageOptions, STORAGE_URL_FORMS, type StorageOf } from "./backends/open.ts";
export { toJsonValue } from "./session/to_json.ts";
export type { ContentSchemas, StandardResult, StandardSchema } from "./session/standard_schema.ts";
