/**
 * TRANSITIONAL: the old protected `do*` hooks of backends not yet moved to
 * an engine, seen as a {@linkcode SessionDriver}. Deleted when the last
 * backend hands over a driver.
 *
 * @module
 */
import type { AppendContext, NewRun, RunQuery, SessionDriver } from "./driver.ts";
import type { ListQuery } from "./list.ts";
import type { RunRecord, SessionMode } from "./types.ts";

/** Backends that do not pass their own option keys yet accept any of these (the union of theirs). */
export const LEGACY_OPTION_KEYS: readonly string[] = [
  ...["dir", "url", "authToken", "table", "client", "busyTimeoutMs", "web", "token", "prefix", "redis"],
  ...["retries", "maxRequestBytes", "dbName", "indexedDB", "keyRange", "blockedTimeoutMs"],
];

/** The hooks of a legacy backend. */
export type LegacyHooks<M extends SessionMode> = Record<string, (...args: unknown[]) => Promise<unknown>> & { mode: M };

/** The hooks as a driver (keys, edits and seq bounds beyond the old contract are not supported). */
export function legacyDriver<M extends SessionMode>(self: LegacyHooks<M>): SessionDriver<M> {
  const call = (name: string) => (...args: unknown[]) => self[name]!(...args);
  return {
    create: call("doCreate"),
    read: call("doRead"),
    write: call("doWrite"),
    delete: call("doDelete"),
    rename: call("doRename"),
    list: call("doList"),
    listKeys: (query: ListQuery) => (self.doListKeys ?? self.doList)!.call(self, query),
    appendRuns: (id: string, runs: NewRun[], context: AppendContext) =>
      self.doAppendRuns!(id, runs.map((r) => r.run), context),
    getRuns: async (id: string, q: RunQuery) => {
      const afterSeq = q.order === "asc" ? q.seqAbove : q.seqBelow;
      const rows = await self.doGetRuns!(id, { ...q, afterSeq }) as RunRecord[];
      return rows.map((r) => ({ ...r, key: null, digest: null }));
    },
    importSessions: call("doImport"),
    purge: call("doPurge"),
    drop: call("doDrop"),
    close: call("doClose"),
  } as unknown as SessionDriver<M>;
}
