/**
 * {@linkcode MemoryStorage}: sessions in a `Map`, the reference implementation
 * the conformance and property tests compare every other backend against.
 *
 * @module
 */
import { BaseSessionStorage } from "../session/base.ts";
import { compareSessions, isExpired, type ListQuery, matchesQuery } from "../session/list.ts";
import { cloneJson } from "../session/_json.ts";
import { KvEngine, type KvRecord, type KvStore, type KvTransaction, type RunRange } from "../engines/kv.ts";
import type { StoredRun } from "../session/driver.ts";
import type { BaseStorageOptions, JsonObject, SessionMode, SessionOf, StorageCapabilities } from "../session/types.ts";

/** Options of {@linkcode MemoryStorage}. */
export type MemoryStorageOptions<M extends SessionMode = "agent"> = BaseStorageOptions<M>;

/**
 * Keeps sessions in process memory. Nothing survives the process; use it in
 * tests and as the model of the contract.
 *
 * @typeParam M The mode of the sessions held.
 * @typeParam Memory What `memory` holds; `Data` what `sessionData` holds; `Run` what a run holds (JSON objects unless given).
 *
 * @example Save and read back
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStorage } from "./memory.ts";
 * await using storage = new MemoryStorage({ mode: "agent" });
 * await storage.upsert({ sessionId: "s1", userId: "u1", memory: { turns: 1 } });
 * const session = await storage.read("s1");
 * assert.equal(session?.version, 1);
 * assert.deepEqual(session?.memory, { turns: 1 });
 * ```
 */
export class MemoryStorage<M extends SessionMode = "agent", Memory = JsonObject, Data = JsonObject, Run = JsonObject>
  extends BaseSessionStorage<M, Memory, Data, Run> {
  /** Batches are all or nothing; nothing is shared between processes. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: false, persistent: false };

  /** Creates an empty in-memory storage. */
  constructor(options?: MemoryStorageOptions<M>) {
    super("memory", options, [], (mode) => new KvEngine(new MemoryKvStore(mode)));
  }
}

/** Two maps; a transaction stages its writes and applies them when its work resolves. */
class MemoryKvStore<M extends SessionMode> implements KvStore<M> {
  readonly #mode: M;
  #records = new Map<string, KvRecord<M>>();
  #runs = new Map<string, StoredRun[]>();
  /** Write transactions run one after another (their work awaits between reads and writes). */
  #writer: Promise<unknown> = Promise.resolve();

  constructor(mode: M) {
    this.#mode = mode;
  }

  create(): Promise<void> {
    return Promise.resolve();
  }

  transact<T>(
    mode: "readonly" | "readwrite",
    _ids: readonly string[],
    work: (tx: KvTransaction<M>) => Promise<T>,
  ): Promise<T> {
    if (mode === "readonly") return this.#run(mode, work);
    const result = this.#writer.then(() => this.#run(mode, work));
    this.#writer = result.catch(() => undefined); // the next writer waits for this one, whatever its outcome
    return result;
  }

  async #run<T>(mode: "readonly" | "readwrite", work: (tx: KvTransaction<M>) => Promise<T>): Promise<T> {
    const records = new Map<string, KvRecord<M> | null>();
    const runs = new Map<string, StoredRun[]>();
    const tx: KvTransaction<M> = {
      get: (id) => {
        const record = records.has(id) ? records.get(id)! : this.#records.get(id) ?? null;
        return Promise.resolve(record === null ? null : cloneJson(record));
      },
      put: (record) => {
        records.set(record.session.sessionId, cloneJson(record));
        return Promise.resolve();
      },
      delete: (id) => {
        records.set(id, null);
        runs.set(id, []);
        return Promise.resolve();
      },
      runs: (record, range) => Promise.resolve(cloneJson(slice(this.#logOf(record.session.sessionId, runs), range))),
      runByKey: (record, key) => {
        const found = this.#logOf(record.session.sessionId, runs).find((r) => r.key === key);
        return Promise.resolve(found === undefined ? null : cloneJson(found));
      },
      appendRuns: (id, runCount, added) => {
        runs.set(id, [...this.#logOf(id, runs).slice(0, runCount), ...cloneJson(added)]);
        return Promise.resolve();
      },
      replaceRuns: (id, replaced) => {
        runs.set(id, cloneJson(replaced));
        return Promise.resolve();
      },
    };
    const result = await work(tx);
    if (mode === "readwrite") {
      for (const [id, record] of records) {
        if (record === null) this.#records.delete(id);
        else this.#records.set(id, record);
      }
      for (const [id, log] of runs) {
        if (log.length === 0) this.#runs.delete(id);
        else this.#runs.set(id, log);
      }
    }
    return result;
  }

  #logOf(id: string, staged: Map<string, StoredRun[]>): StoredRun[] {
    return staged.get(id) ?? this.#runs.get(id) ?? [];
  }

  /** Filters and sorts every session: fine for a model, not for large stores. */
  scan(query: ListQuery): Promise<SessionOf<M>[]> {
    const rows = [...this.#records.values()].map((r) => r.session)
      .filter((s) => matchesQuery(s, query, this.#mode))
      .sort((a, b) => compareSessions(a, b, query.sortBy, query.order))
      .slice(0, query.limit + 1);
    return Promise.resolve(cloneJson(rows));
  }

  expired(liveAfter: number): Promise<string[]> {
    const ids = [...this.#records.values()].filter((r) => isExpired(r.session, liveAfter));
    return Promise.resolve(ids.map((r) => r.session.sessionId));
  }

  drop(): Promise<void> {
    this.#records.clear();
    this.#runs.clear();
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function slice(log: StoredRun[], range: RunRange): StoredRun[] {
  const { seqAbove, seqBelow } = range;
  const rows = log.filter((r) => (seqAbove === null || r.seq > seqAbove) && (seqBelow === null || r.seq < seqBelow));
  return (range.order === "asc" ? rows : rows.reverse()).slice(0, range.limit);
}
