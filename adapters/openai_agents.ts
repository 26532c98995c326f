/**
 * A persistent `Session` for OpenAI Agents JS (`@openai/agents-core`) on any
 * agentstate storage: the session's items are the runs of one agentstate
 * session, in the order storage numbered them, so `getItems(limit)` reads
 * only the last `limit` and `addItems` is one append whatever the history's
 * length. It also implements the SDK's optional history transactions
 * (`applyHistoryTransaction`, idempotent by `operationId`), history
 * mutations and compaction replacement, each as one atomic storage write.
 *
 * `@openai/agents-core` is a peer dependency: this module imports it, the
 * core does not.
 *
 * @example Two runs sharing history
 * ```ts ignore
 * import { Agent, run } from "@openai/agents-core";
 * import { AgentstateSession } from "@agentstate/storage/openai-agents";
 *
 * const session = new AgentstateSession({ storage, sessionId: "support-42", userId: "ada" });
 * await run(agent, "My order is late", { session });
 * await run(agent, "What did I just say?", { session }); // the model sees the first run's items
 * ```
 *
 * @module
 */
import {
  type AgentInputItem,
  applySessionHistoryMutations,
  type SessionHistoryRewriteArgs,
  type SessionHistoryRewriteAwareSession,
  type SessionHistoryTransactionArgs,
  type SessionHistoryTransactionAwareSession,
  UserError,
} from "@openai/agents-core";
import { RunConflictError, SessionNotFoundError } from "../session/errors.ts";
import { toJsonValue } from "../session/to_json.ts";
import type { JsonObject, JsonValue, RunRecord } from "../session/types.ts";
import { readLast, readLog, type RunLogStorage } from "./_log.ts";

/** Options of {@linkcode AgentstateSession}. */
export interface AgentstateSessionOptions {
  /** Where the items live: any storage of this package, in any mode. */
  storage: RunLogStorage;
  /**
   * The agentstate session holding the items; created on the first write.
   * @default {a random UUID}
   */
  sessionId?: string;
  /** When given, the session belongs to this user and another user's session with the same id is neither read nor written. */
  userId?: string;
}

/**
 * The SDK's `Session` over a `SessionStorage`. Items are stored as plain JSON
 * (fields holding `undefined` dropped, see `toJsonValue`) and read back as
 * stored.
 */
export class AgentstateSession implements SessionHistoryTransactionAwareSession, SessionHistoryRewriteAwareSession {
  readonly #storage: RunLogStorage;
  readonly #sessionId: string;
  readonly #userId: string | undefined;

  /** A session over `options.storage`. */
  constructor(options: AgentstateSessionOptions) {
    this.#storage = options.storage;
    this.#sessionId = options.sessionId ?? crypto.randomUUID();
    this.#userId = options.userId;
  }

  /** The agentstate session id. */
  getSessionId(): Promise<string> {
    return Promise.resolve(this.#sessionId);
  }

  /** Every item, or the last `limit` in chronological order (none when `limit` ≤ 0). */
  async getItems(limit?: number): Promise<AgentInputItem[]> {
    if (limit !== undefined && limit <= 0) return [];
    const runs = limit === undefined
      ? await readLog(this.#storage, this.#sessionId, this.#userId)
      : await readLast(this.#storage, this.#sessionId, limit, this.#userId);
    return runs.map(asItem);
  }

  /** Appends `items` in one write, creating the session when it is missing. */
  async addItems(items: AgentInputItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.#storage.appendRuns(this.#sessionId, items.map(asRun), { userId: this.#userId, create: true });
  }

  /** Removes and returns the last item, or `undefined` when there is none. */
  async popItem(): Promise<AgentInputItem | undefined> {
    try {
      const popped = await this.#storage.popRun(this.#sessionId, { userId: this.#userId });
      return popped === null ? undefined : asItem(popped);
    } catch (error) {
      if (error instanceof SessionNotFoundError) return undefined;
      throw error;
    }
  }

  /** Deletes the agentstate session with its items. */
  async clearSession(): Promise<void> {
    await this.#storage.deleteSession(this.#sessionId, { userId: this.#userId });
  }

  /** Replaces the history with `items` (a compaction marker and what it keeps) in one atomic write. */
  async replaceHistoryWithCompaction(items: AgentInputItem[]): Promise<void> {
    const runs = await readLog(this.#storage, this.#sessionId, this.#userId);
    if (runs.length === 0) return await this.addItems(items);
    await this.#storage.replaceRuns(
      this.#sessionId,
      { expectedSuffix: runs, replacement: items.map(asRun) },
      { userId: this.#userId },
    );
  }

  /** Applies the SDK's history mutations (a function call replaced by `callId`): one atomic rewrite of the changed tail. */
  async applyHistoryMutations(args: SessionHistoryRewriteArgs): Promise<void> {
    if (args.mutations.length === 0) return;
    const runs = await readLog(this.#storage, this.#sessionId, this.#userId);
    const next = applySessionHistoryMutations(runs.map(asItem), args.mutations).map(asRun);
    let first = 0;
    while (first < runs.length && first < next.length && sameJson(runs[first]!.run, next[first]!)) first++;
    if (first === runs.length && first === next.length) return;
    await this.#storage.replaceRuns(
      this.#sessionId,
      { expectedSuffix: runs.slice(first), replacement: next.slice(first) },
      { userId: this.#userId },
    );
  }

  /**
   * Applies an append or a suffix replacement atomically, recording
   * `operationId` in the keys of the runs it writes (`<operationId>:<i>`):
   * repeating an operation with the same items changes nothing; reusing its
   * id with other items, or replacing a suffix that is no longer the tail,
   * is a `UserError` and changes nothing.
   *
   * Not detected, because nothing is stored for them: a repeated replacement
   * whose `replacement` is empty (when its `expectedSuffix` is the tail
   * again, it is applied again), an empty append, and a reuse of an id with
   * an append of fewer items than the first.
   */
  async applyHistoryTransaction(args: SessionHistoryTransactionArgs): Promise<void> {
    const { operationId, transaction } = args;
    if (typeof operationId !== "string" || operationId.trim() === "") {
      throw new UserError("Session history transaction operationId must be a non-empty string.");
    }
    const user = { userId: this.#userId };
    if (transaction.type === "append_items" || transaction.expectedSuffix.length === 0) {
      const items = transaction.type === "append_items" ? transaction.items : transaction.replacement;
      if (items.length === 0) return;
      try {
        await this.#storage.appendRuns(this.#sessionId, items.map(asRun), {
          ...user,
          create: true,
          keys: items.map((_, i) => `${operationId}:${i}`),
        });
      } catch (error) {
        if (!(error instanceof RunConflictError)) throw error;
        throw new UserError("Session history operation was already applied with a different transaction.");
      }
      return;
    }
    const expected = transaction.expectedSuffix.map(asRun);
    const replacement = transaction.replacement.map(asRun);
    const tail = await readLast(this.#storage, this.#sessionId, expected.length, this.#userId);
    const matches = tail.length === expected.length && tail.every((r, i) => sameJson(r.run, expected[i]!));
    if (!matches) {
      if (replacement.length > 0 && await this.#applied(operationId, replacement)) return;
      throw new UserError("Session history suffix no longer matches the transaction precondition.");
    }
    const keys = replacement.map((_, i) => `${operationId}:${i}`);
    try {
      await this.#storage.replaceRuns(this.#sessionId, { expectedSuffix: tail, replacement, keys }, user);
    } catch (error) {
      if (!(error instanceof RunConflictError)) throw error;
      throw new UserError("Session history suffix no longer matches the transaction precondition.");
    }
  }

  /** Whether the runs keyed by `operationId` hold `replacement`, in order: the operation was applied. */
  async #applied(operationId: string, replacement: JsonObject[]): Promise<boolean> {
    const first = await this.#storage.getRun(this.#sessionId, `${operationId}:0`, { userId: this.#userId });
    if (first === null) return false;
    const { runs } = await this.#storage.getRuns(this.#sessionId, {
      userId: this.#userId,
      after: first.seq - 1,
      limit: Math.min(replacement.length, 1000),
    });
    return runs.length === replacement.length &&
      runs.every((r: RunRecord<JsonObject>, i: number) =>
        r.key === `${operationId}:${i}` && sameJson(r.run, replacement[i]!)
      );
  }
}

/** The item as the plain JSON object stored. */
function asRun(item: AgentInputItem): JsonObject {
  return toJsonValue(item) as JsonObject;
}

function asItem(record: RunRecord<JsonObject>): AgentInputItem {
  return record.run as unknown as AgentInputItem;
}

/** Equal JSON values, whatever the order of object keys. */
function sameJson(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]!));
  }
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k]!, b[k]!));
}
