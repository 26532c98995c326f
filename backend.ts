/**
 * For backend authors: the base class, the driver contract, the key-value
 * engine, the write and listing rules, the stored-text decoder and the
 * backend registry. A user of the library does not need this module; it is
 * `@agentstate/storage/backend`.
 *
 * A backend is a class extending {@linkcode BaseSessionStorage} that hands it
 * a {@linkcode SessionDriver}. A key-value backend writes only a
 * {@linkcode KvStore} (a transaction with get / put / delete and run-log
 * access, an ordered scan, an expiry scan) and lets {@linkcode KvEngine} be
 * the driver: every session rule (ownership, versions, TTL, paging,
 * encryption, error wrapping) is already written once in the core. Then add
 * one entry to `backends/registry.ts` ({@linkcode defineBackend}) so
 * `openStorage` and the CLI know its URLs, and run the conformance suite
 * (`@agentstate/storage/testing`) on it in one test file.
 *
 * @example A minimal backend: sessions in a `Map`, every transaction on a copy
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   BaseSessionStorage,
 *   compareSessions,
 *   isExpired,
 *   KvEngine,
 *   type KvRecord,
 *   type KvStore,
 *   type KvTransaction,
 *   matchesQuery,
 *   type StoredRun,
 * } from "./backend.ts";
 * import type { BaseStorageOptions, SessionMode, StorageCapabilities } from "./mod.ts";
 *
 * interface Data<M extends SessionMode> {
 *   records: Map<string, KvRecord<M>>;
 *   runs: Map<string, StoredRun[]>;
 * }
 *
 * class MapStore<M extends SessionMode> implements KvStore<M> {
 *   #data: Data<M> = { records: new Map(), runs: new Map() };
 *   #queue: Promise<unknown> = Promise.resolve();
 *   constructor(readonly mode: M) {}
 *
 *   create = () => Promise.resolve();
 *   drop = () => Promise.resolve(void (this.#data = { records: new Map(), runs: new Map() }));
 *   close = () => Promise.resolve();
 *
 *   // One transaction at a time, each on a copy that replaces the data when a write succeeds.
 *   transact<T>(mode: "readonly" | "readwrite", _ids: readonly string[], work: (tx: KvTransaction<M>) => Promise<T>) {
 *     const run = async () => {
 *       const data = structuredClone(this.#data);
 *       const result = structuredClone(await work(transaction(data)));
 *       if (mode === "readwrite") this.#data = data;
 *       return result;
 *     };
 *     const result = this.#queue.then(run);
 *     this.#queue = result.catch(() => undefined);
 *     return result;
 *   }
 *
 *   scan(query: Parameters<KvStore<M>["scan"]>[0]) {
 *     const rows = [...this.#data.records.values()].map((r) => r.session)
 *       .filter((s) => matchesQuery(s, query, this.mode))
 *       .sort((a, b) => compareSessions(a, b, query.sortBy, query.order));
 *     return Promise.resolve(structuredClone(rows.slice(0, query.limit + 1)));
 *   }
 *
 *   expired(liveAfter: number) {
 *     const records = [...this.#data.records.values()].filter((r) => isExpired(r.session, liveAfter));
 *     return Promise.resolve(records.map((r) => r.session.sessionId));
 *   }
 * }
 *
 * function transaction<M extends SessionMode>(data: Data<M>): KvTransaction<M> {
 *   const log = (id: string) => data.runs.get(id) ?? [];
 *   return {
 *     get: (id) => Promise.resolve(structuredClone(data.records.get(id) ?? null)),
 *     put: (record) => Promise.resolve(void data.records.set(record.session.sessionId, structuredClone(record))),
 *     delete: (id) => Promise.resolve(void (data.records.delete(id), data.runs.delete(id))),
 *     runs: (record, { seqAbove, seqBelow, order, limit }) => {
 *       const rows = log(record.session.sessionId).slice(0, record.runCount)
 *         .filter((r) => (seqAbove === null || r.seq > seqAbove) && (seqBelow === null || r.seq < seqBelow));
 *       if (order === "desc") rows.reverse();
 *       return Promise.resolve(structuredClone(rows.slice(0, limit)));
 *     },
 *     appendRuns: (id, runCount, runs) =>
 *       Promise.resolve(void data.runs.set(id, [...log(id).slice(0, runCount), ...structuredClone(runs)])),
 *     replaceRuns: (id, runs) => Promise.resolve(void data.runs.set(id, structuredClone(runs))),
 *   };
 * }
 *
 * export class MapStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
 *   readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: false, persistent: false };
 *   constructor(options?: BaseStorageOptions<M>) {
 *     super("map", options, [], (mode) => new KvEngine(new MapStore(mode)));
 *   }
 * }
 *
 * await using storage = new MapStorage();
 * await storage.upsert({ sessionId: "s1", userId: "ada" });
 * await storage.appendRuns("s1", [{ input: "hi" }], { userId: "ada" });
 * assert.equal((await storage.read("s1"))?.version, 2);
 * assert.deepEqual((await storage.getRuns("s1", { userId: "ada" })).runs.map((r) => r.run), [{ input: "hi" }]);
 * ```
 *
 * @module
 */
export * from "./session/base.ts";
export type {
  AppendContext,
  ChangeContext,
  EditContext,
  ImportConflict,
  NewRun,
  RunEdit,
  RunQuery,
  SessionDriver,
  SessionKey,
  StoredRun,
  WriteContext,
} from "./session/driver.ts";
export { KvEngine, type KvRecord, type KvStore, type KvTransaction, type RunRange } from "./engines/kv.ts";
export { applyUpsert, checkWrite } from "./session/stamp.ts";
export {
  compareIds,
  compareSessions,
  isExpired,
  type ListQuery,
  matchesQuery,
  toListQuery,
  toPage,
} from "./session/list.ts";
export { checkMode, MODE_FIELDS, type ModeFields } from "./session/modes.ts";
export * from "./session/parse.ts";
export { parseStoredJson, parseStoredObject } from "./session/stored.ts";
export * from "./session/cursor.ts";
export { formatPath } from "./session/errors.ts";
export { FieldCipher } from "./session/encryption.ts";
// Re-exported from the backends that define them (their homes may move).
export { encodeFileName, STALE_TEMP_MS } from "./backends/json.ts";
export type { KeyRangeStatic } from "./backends/indexeddb.ts";
export * from "./backends/registry.ts";
