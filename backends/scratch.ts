/**
 * {@linkcode ScratchStorage}: a throwaway backend (sessions in a process-wide
 * `Map` per name), written to measure how many files a new backend touches.
 *
 * @module
 */
import {
  BaseSessionStorage,
  compareSessions,
  isExpired,
  KvEngine,
  type KvRecord,
  type KvStore,
  type KvTransaction,
  type ListQuery,
  matchesQuery,
} from "../backend.ts";
import type { BaseStorageOptions, RunRecord, SessionMode, StorageCapabilities } from "../mod.ts";

interface Data {
  records: Map<string, KvRecord<SessionMode>>;
  runs: Map<string, RunRecord[]>;
}

const PLACES = new Map<string, Data>();

class ScratchStore<M extends SessionMode> implements KvStore<M> {
  #queue: Promise<unknown> = Promise.resolve();
  constructor(readonly mode: M, readonly name: string) {}
  get #data(): Data {
    let data = PLACES.get(this.name);
    if (!data) PLACES.set(this.name, data = { records: new Map(), runs: new Map() });
    return data;
  }
  create = () => Promise.resolve();
  drop = () => Promise.resolve(void PLACES.delete(this.name));
  close = () => Promise.resolve();
  transact<T>(mode: "readonly" | "readwrite", _ids: readonly string[], work: (tx: KvTransaction<M>) => Promise<T>) {
    const run = async () => {
      const data = structuredClone(this.#data);
      const result = structuredClone(await work(transaction<M>(data)));
      if (mode === "readwrite") PLACES.set(this.name, data);
      return result;
    };
    const result = this.#queue.then(run);
    this.#queue = result.catch(() => undefined);
    return result;
  }
  scan(query: ListQuery) {
    const rows = [...this.#data.records.values()].map((r) => r.session)
      .filter((s) => matchesQuery(s, query, this.mode))
      .sort((a, b) => compareSessions(a, b, query.sortBy, query.order));
    return Promise.resolve(structuredClone(rows.slice(0, query.limit + 1)) as never);
  }
  expired(liveAfter: number) {
    const records = [...this.#data.records.values()].filter((r) => isExpired(r.session, liveAfter));
    return Promise.resolve(records.map((r) => r.session.sessionId));
  }
}

function transaction<M extends SessionMode>(data: Data): KvTransaction<M> {
  const log = (id: string) => data.runs.get(id) ?? [];
  return {
    get: (id) => Promise.resolve(structuredClone(data.records.get(id) ?? null) as KvRecord<M> | null),
    put: (record) => Promise.resolve(void data.records.set(record.session.sessionId, structuredClone(record))),
    delete: (id) => Promise.resolve(void (data.records.delete(id), data.runs.delete(id))),
    runs: (record, { afterSeq, order, limit }) => {
      const all = log(record.session.sessionId).slice(0, record.runCount);
      const rows = order === "asc"
        ? all.filter((r) => afterSeq === null || r.seq > afterSeq)
        : all.filter((r) => afterSeq === null || r.seq < afterSeq).reverse();
      return Promise.resolve(structuredClone(rows.slice(0, limit)));
    },
    appendRuns: (id, runCount, runs) =>
      Promise.resolve(void data.runs.set(id, [...log(id).slice(0, runCount), ...structuredClone(runs)])),
    replaceRuns: (id, runs) => Promise.resolve(void data.runs.set(id, structuredClone(runs))),
  };
}

/** Options of {@linkcode ScratchStorage}. */
export interface ScratchStorageOptions<M extends SessionMode = "agent"> extends BaseStorageOptions<M> {
  /** Storages with the same name share their sessions. */
  name: string;
}

/** Sessions in a process-wide map per name. */
export class ScratchStorage<M extends SessionMode = "agent"> extends BaseSessionStorage<M> {
  /** All or nothing; nothing survives the process. */
  readonly capabilities: StorageCapabilities = { atomicBatch: true, crossProcessOcc: false, persistent: false };
  /** Opens the scratch store `options.name`. */
  constructor(options: ScratchStorageOptions<M>) {
    super("scratch", options, ["name"], (mode) => new KvEngine(new ScratchStore(mode, `${mode}:${options.name}`)));
  }
}
