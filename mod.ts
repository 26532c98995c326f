/**
 * agentstate: save and load AI-agent sessions (agent, team and workflow
 * sessions with their memory and state) on libSQL/SQLite, JSON files, Upstash
 * Redis, IndexedDB or memory, with one behaviour on every backend.
 *
 * Importing this module needs no permissions and loads no driver: each backend
 * loads its client on first use.
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
export * from "./session/errors.ts";
export * from "./session/encryption.ts";
export * from "./session/base.ts";
export * from "./session/cursor.ts";
export * from "./session/list.ts";
export * from "./session/modes.ts";
export * from "./session/parse.ts";
export * from "./session/stamp.ts";
export * from "./backends/memory.ts";
export * from "./backends/libsql.ts";
export * from "./backends/json.ts";
export * from "./backends/upstash.ts";
export * from "./backends/indexeddb.ts";
export * from "./backends/open.ts";
export * from "./session/to_json.ts";
export type { ContentSchemas, StandardResult, StandardSchema } from "./session/standard_schema.ts";
