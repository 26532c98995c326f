/**
 * A LangGraph.js checkpointer over any agentstate storage:
 * {@linkcode AgentstateSaver} extends `BaseCheckpointSaver` from
 * `@langchain/langgraph-checkpoint` (a peer dependency, 1.x) and passes
 * LangGraph's own validation suite.
 *
 * Give it a workflow-mode storage of its own. Each (thread, namespace) is one
 * session whose runs are its checkpoints, keyed by checkpoint id; each
 * checkpoint's pending writes are the runs of one more session, keyed by
 * `(task_id, idx)`. So `getTuple` is one keyed read (or a read of the log's
 * last run) plus one read of the writes, whatever the thread's length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStorage } from "../backends/memory.ts";
 * import { AgentstateSaver } from "./langgraph.ts";
 * import { emptyCheckpoint } from "@langchain/langgraph-checkpoint";
 *
 * await using storage = new MemoryStorage({ mode: "workflow" });
 * const saver = new AgentstateSaver({ storage });
 * const checkpoint = { ...emptyCheckpoint(), id: "1ef-0001" };
 * const config = await saver.put({ configurable: { thread_id: "t1" } }, checkpoint, { source: "input", step: -1, parents: {} }, {});
 * assert.equal((await saver.getTuple(config))?.checkpoint.id, "1ef-0001");
 * ```
 *
 * @module
 */
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  compareWritesSortKeys,
  maxChannelVersion,
  type PendingWrite,
  type SerializerProtocol,
  TASKS,
  WRITES_IDX_MAP,
  writesSortKey,
} from "npm:@langchain/langgraph-checkpoint@^1";
import type { RunnableConfig } from "npm:@langchain/core@^1/runnables";
import { fromBase64, toBase64 } from "../session/base64.ts";
import { RunConflictError } from "../session/errors.ts";
import type { JsonObject, RunRecord, SessionStorage, WorkflowSession } from "../session/types.ts";
import {
  checkpointRunJson,
  CHECKPOINTS_ENTITY,
  checkpointsSessionId,
  parseCheckpointRun,
  parseWriteRun,
  type StoredBlob,
  type StoredChannel,
  writeKey,
  type WriteRun,
  writeRunJson,
  WRITES_ENTITY,
  writesSessionId,
} from "./langgraph/layout.ts";
import { optionalString, requiredString, sameValue } from "./langgraph/config.ts";

/** The storage methods the saver uses: any workflow-mode agentstate storage has them. */
export type LangGraphStorage = Pick<
  SessionStorage<WorkflowSession, unknown, JsonObject>,
  "mode" | "appendRuns" | "getRuns" | "getRun" | "putRun" | "listSessions" | "deleteSession"
>;

/** Options of {@linkcode AgentstateSaver}. */
export interface AgentstateSaverOptions {
  /** A workflow-mode storage (`{ mode: "workflow" }`) the saver may list and delete in. */
  storage: LangGraphStorage;
  /** How checkpoints, metadata and writes are serialised; LangGraph's default when absent. */
  serde?: SerializerProtocol;
}

/** Runs read per request when listing. */
const PAGE = 100;
/** How many checkpoints' stored channels a saver remembers for the puts of their children. */
const REMEMBERED = 64;
/** How often `putWrites` plans again when other writers keep adding the same keys. */
const WRITE_ATTEMPTS = 5;

/** A (thread, namespace) pair. */
interface Thread {
  threadId: string;
  ns: string;
}

/** A LangGraph `BaseCheckpointSaver` storing checkpoints and pending writes as keyed runs of an agentstate storage. */
export class AgentstateSaver extends BaseCheckpointSaver {
  /** Where checkpoints and writes live. */
  readonly storage: LangGraphStorage;
  /** Stored channels of the checkpoints last put or read, by `[thread, ns, id]` JSON, oldest first. */
  readonly #recent = new Map<string, StoredChannel[]>();

  /** A saver over `options.storage`, which must be in workflow mode. */
  constructor(options: AgentstateSaverOptions) {
    super(options.serde);
    if (options.storage.mode !== "workflow") {
      throw new TypeError(`AgentstateSaver needs a workflow-mode storage, got mode "${options.storage.mode}"`);
    }
    this.storage = options.storage;
  }

  /** The checkpoint at `checkpoint_id`, or the thread's last one; `undefined` when absent or without `thread_id`. */
  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = optionalString(config, "thread_id");
    if (threadId === undefined) return undefined;
    const thread = { threadId, ns: optionalString(config, "checkpoint_ns") ?? "" };
    const id = optionalString(config, "checkpoint_id");
    const sessionId = checkpointsSessionId(threadId, thread.ns);
    const record = id === undefined
      ? (await this.storage.getRuns(sessionId, { last: 1, userId: threadId })).runs[0] ?? null
      : await this.storage.getRun(sessionId, id, { userId: threadId });
    return record === null ? undefined : await this.#tuple(thread, record);
  }

  /**
   * Checkpoints, newest first: of one thread and namespace, of every namespace of a thread, or of every thread
   * (when `thread_id` is absent); only those with an id before `before`'s and whose metadata has the `filter`'s
   * values; at most `limit`.
   */
  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const threadId = optionalString(config, "thread_id");
    const ns = optionalString(config, "checkpoint_ns");
    const only = optionalString(config, "checkpoint_id");
    const before = options?.before === undefined ? undefined : optionalString(options.before, "checkpoint_id");
    const filter = Object.entries(options?.filter ?? {});
    let remaining = options?.limit ?? Infinity;
    if (remaining <= 0) return;
    for await (const thread of this.#threads(threadId, ns)) {
      for await (const record of this.#checkpoints(thread, only, before, filter.length > 0 ? PAGE : remaining)) {
        const stored = parseCheckpointRun(record.run, this.#where(thread, record));
        const metadata = await this.#load(stored.metadata) as CheckpointMetadata & Record<string, unknown>;
        if (!filter.every(([key, value]) => sameValue(metadata[key], value))) continue;
        yield await this.#tuple(thread, record, metadata);
        if (--remaining <= 0) return;
      }
    }
  }

  /**
   * Stores a checkpoint as the next run of its thread's session (creating it). Channels in `newVersions` are
   * stored from `checkpoint.channel_values`; the others are carried over from the parent checkpoint when it
   * holds the same version (remembered when this saver put or read the parent, else one more keyed read).
   * Putting a stored id again replaces that checkpoint.
   */
  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const threadId = requiredString(config, "thread_id", "put");
    const ns = optionalString(config, "checkpoint_ns") ?? "";
    const parent = optionalString(config, "checkpoint_id") ?? null;
    const sessionId = checkpointsSessionId(threadId, ns);
    const channels: StoredChannel[] = [];
    const carried = new Map<string, number | string>();
    const values = checkpoint.channel_values as Record<string, unknown>;
    for (const [channel, version] of Object.entries(checkpoint.channel_versions)) {
      if (!Object.hasOwn(newVersions, channel)) carried.set(channel, version);
      else if (Object.hasOwn(values, channel) && values[channel] !== undefined) {
        channels.push([channel, version, await this.#dump(values[channel])]);
      }
    }
    if (carried.size > 0 && parent !== null) {
      for (const entry of await this.#parentChannels({ threadId, ns }, parent)) {
        if (carried.get(entry[0]) === entry[1]) channels.push(entry);
      }
    }
    const { channel_values: _, ...rest } = checkpoint;
    const run = checkpointRunJson({
      checkpoint: await this.#dump(rest),
      metadata: await this.#dump(metadata),
      parent,
      channels,
    });
    try {
      await this.storage.appendRuns(sessionId, [run], {
        userId: threadId,
        keys: [checkpoint.id],
        create: true,
        patch: { workflowId: CHECKPOINTS_ENTITY, sessionName: ns },
      });
    } catch (error) {
      if (!(error instanceof RunConflictError)) throw error;
      await this.storage.putRun(sessionId, { key: checkpoint.id }, run, { userId: threadId });
    }
    this.#remember({ threadId, ns }, checkpoint.id, channels);
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  /**
   * Stores writes against a checkpoint, keyed by `(taskId, idx)`: a write to one of LangGraph's special channels
   * (negative idx: errors, interrupts, resumes) replaces what is stored under its key; any other write is ignored
   * when its key is stored. One append when no key is stored yet.
   */
  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = requiredString(config, "thread_id", "putWrites");
    const checkpointId = requiredString(config, "checkpoint_id", "putWrites");
    const ns = optionalString(config, "checkpoint_ns") ?? "";
    const sessionId = writesSessionId(threadId, ns, checkpointId);
    const wanted = new Map<string, { run: JsonObject; replace: boolean }>();
    for (const [i, [channel, value]] of writes.entries()) {
      const idx = Object.hasOwn(WRITES_IDX_MAP, channel) ? WRITES_IDX_MAP[channel]! : i;
      const key = writeKey(taskId, idx);
      if (wanted.has(key) && idx >= 0) continue;
      const run: WriteRun = { task: taskId, idx, channel, path: taskPath ?? "", value: await this.#dump(value) };
      wanted.set(key, { run: writeRunJson(run), replace: idx < 0 });
    }
    if (wanted.size === 0) return;
    let stored = new Map<string, string>();
    for (let attempt = 1;; attempt++) {
      const fresh = [...wanted].filter(([key]) => !stored.has(key));
      for (const [key, { run, replace }] of wanted) {
        const held = stored.get(key);
        if (replace && held !== undefined && held !== JSON.stringify(run)) {
          await this.storage.putRun(sessionId, { key }, run, { userId: threadId });
        }
      }
      if (fresh.length === 0) return;
      try {
        await this.storage.appendRuns(sessionId, fresh.map(([, w]) => w.run), {
          userId: threadId,
          keys: fresh.map(([key]) => key),
          create: true,
          patch: { workflowId: WRITES_ENTITY, sessionName: ns },
        });
        return;
      } catch (error) {
        if (!(error instanceof RunConflictError) || attempt === WRITE_ATTEMPTS) throw error;
      }
      stored = new Map((await this.#writeRecords(threadId, sessionId)).map((r) => [r.key!, JSON.stringify(r.run)]));
    }
  }

  /** Deletes every checkpoint and write of `threadId`, in every namespace. */
  async deleteThread(threadId: string): Promise<void> {
    if (typeof threadId !== "string" || threadId === "") throw new TypeError("deleteThread: expected a thread id");
    for (const key of this.#recent.keys()) {
      if ((JSON.parse(key) as string[])[0] === threadId) this.#recent.delete(key);
    }
    for (const entityId of [CHECKPOINTS_ENTITY, WRITES_ENTITY]) {
      for (;;) {
        const { sessions } = await this.storage.listSessions({ userId: threadId, entityId, limit: 1000 });
        if (sessions.length === 0) break;
        for (const s of sessions) await this.storage.deleteSession(s.sessionId, { userId: threadId });
      }
    }
  }

  /**
   * The stored channels of a parent checkpoint: from the saver's memory of the checkpoints it last put or read
   * (LangGraph puts a child right after putting or reading its parent), else one keyed read. What a checkpoint
   * stored for a (channel, version) never changes, so a remembered entry is never stale.
   */
  async #parentChannels(thread: Thread, parent: string): Promise<StoredChannel[]> {
    const remembered = this.#recent.get(JSON.stringify([thread.threadId, thread.ns, parent]));
    if (remembered !== undefined) return remembered;
    const sessionId = checkpointsSessionId(thread.threadId, thread.ns);
    const record = await this.storage.getRun(sessionId, parent, { userId: thread.threadId });
    return record === null ? [] : parseCheckpointRun(record.run, this.#where(thread, record)).channels;
  }

  #remember(thread: Thread, checkpointId: string, channels: StoredChannel[]): void {
    const key = JSON.stringify([thread.threadId, thread.ns, checkpointId]);
    this.#recent.delete(key);
    this.#recent.set(key, channels);
    if (this.#recent.size > REMEMBERED) this.#recent.delete(this.#recent.keys().next().value!);
  }

  /** The threads to list: the one named, or pages of the storage's checkpoint sessions. */
  async *#threads(threadId: string | undefined, ns: string | undefined): AsyncGenerator<Thread> {
    if (threadId !== undefined && ns !== undefined) {
      yield { threadId, ns };
      return;
    }
    let cursor: string | null = null;
    do {
      const page = await this.storage.listSessions({
        entityId: CHECKPOINTS_ENTITY,
        ...(threadId === undefined ? {} : { userId: threadId }),
        ...(ns === undefined ? {} : { sessionName: ns }),
        limit: PAGE,
        cursor,
      });
      for (const s of page.sessions) yield { threadId: s.userId!, ns: s.sessionName ?? "" };
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  /** A thread's checkpoint runs, newest first, from before `before` (a keyed read finds its seq), or only `only`. */
  async *#checkpoints(
    thread: Thread,
    only: string | undefined,
    before: string | undefined,
    want: number,
  ): AsyncGenerator<RunRecord> {
    const sessionId = checkpointsSessionId(thread.threadId, thread.ns);
    const userId = thread.threadId;
    if (only !== undefined) {
      const record = await this.storage.getRun(sessionId, only, { userId });
      if (record !== null && (before === undefined || only < before)) yield record;
      return;
    }
    const bound = before === undefined ? null : await this.storage.getRun(sessionId, before, { userId });
    const limit = Math.max(1, Math.min(PAGE, before !== undefined && bound === null ? PAGE : want));
    let cursor: string | null = null;
    do {
      const page = await this.storage.getRuns(sessionId, {
        order: "desc",
        limit,
        cursor,
        userId,
        ...(bound === null ? {} : { before: bound.seq }),
      });
      for (const record of page.runs) {
        if (before === undefined || record.key! < before) yield record;
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  /** A stored checkpoint run as a tuple, with its writes (and its parent's sends for a pre-v4 checkpoint). */
  async #tuple(thread: Thread, record: RunRecord, metadata?: CheckpointMetadata): Promise<CheckpointTuple> {
    const stored = parseCheckpointRun(record.run, this.#where(thread, record));
    const id = record.key!;
    const checkpoint = await this.#load(stored.checkpoint) as Checkpoint;
    const values = await Promise.all(stored.channels.map(async ([ch, , blob]) => [ch, await this.#load(blob)]));
    checkpoint.channel_values = Object.fromEntries(values);
    this.#remember(thread, id, stored.channels);
    const pendingWrites = await this.#writes(thread, id);
    if (checkpoint.v < 4 && stored.parent !== null) {
      const sends = (await this.#writes(thread, stored.parent)).filter(([, channel]) => channel === TASKS);
      checkpoint.channel_values[TASKS] = sends.map(([, , value]) => value);
      const versions = Object.values(checkpoint.channel_versions);
      checkpoint.channel_versions[TASKS] = versions.length > 0
        ? maxChannelVersion(...versions)
        : this.getNextVersion(undefined);
    }
    const configurable = { thread_id: thread.threadId, checkpoint_ns: thread.ns };
    const tuple: CheckpointTuple = {
      config: { configurable: { ...configurable, checkpoint_id: id } },
      checkpoint,
      metadata: metadata ?? await this.#load(stored.metadata) as CheckpointMetadata,
      pendingWrites,
    };
    if (stored.parent !== null) {
      tuple.parentConfig = { configurable: { ...configurable, checkpoint_id: stored.parent } };
    }
    return tuple;
  }

  /** A checkpoint's writes in LangGraph's writes order `(task_path, task_id, idx)`. */
  async #writes(thread: Thread, checkpointId: string): Promise<CheckpointPendingWrite[]> {
    const sessionId = writesSessionId(thread.threadId, thread.ns, checkpointId);
    const writes = (await this.#writeRecords(thread.threadId, sessionId)).map((r) =>
      parseWriteRun(r.run, `${sessionId} run ${r.seq}`)
    );
    writes.sort((a, b) =>
      compareWritesSortKeys(writesSortKey(a.path, a.task, a.idx), writesSortKey(b.path, b.task, b.idx))
    );
    return await Promise.all(
      writes.map(async (w) => [w.task, w.channel, await this.#load(w.value)] as CheckpointPendingWrite),
    );
  }

  /** Every run of a writes session (one request per 1 000). */
  async #writeRecords(threadId: string, sessionId: string): Promise<RunRecord[]> {
    const records: RunRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.storage.getRuns(sessionId, { limit: 1000, cursor, userId: threadId });
      records.push(...page.runs);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return records;
  }

  #where(thread: Thread, record: RunRecord): string {
    return `${checkpointsSessionId(thread.threadId, thread.ns)} run ${record.seq}`;
  }

  async #dump(value: unknown): Promise<StoredBlob> {
    const [type, bytes] = await this.serde.dumpsTyped(value);
    return [type, toBase64(bytes)];
  }

  async #load(blob: StoredBlob): Promise<unknown> {
    return await this.serde.loadsTyped(blob[0], fromBase64(blob[1]));
  }
}
