/**
 * How the LangGraph saver lays checkpoints and writes out in a workflow-mode
 * storage: session ids, entity ids, the JSON shape of a stored checkpoint and
 * of a stored write, serialised blobs as base64 text, and the checks that turn
 * a stored run that does not have that shape into a `CorruptRecordError`.
 *
 * @module
 */
import { CorruptRecordError } from "../../session/errors.ts";
import type { JsonObject, JsonValue } from "../../session/types.ts";

/** `workflowId` of the session holding one (thread, namespace)'s checkpoints. */
export const CHECKPOINTS_ENTITY = "langgraph-checkpoints";
/** `workflowId` of the session holding one checkpoint's pending writes. */
export const WRITES_ENTITY = "langgraph-writes";

/** Id of the session whose runs are the checkpoints of `threadId` in namespace `ns`, oldest first. */
export function checkpointsSessionId(threadId: string, ns: string): string {
  return `lg:${JSON.stringify([threadId, ns])}`;
}

/** Id of the session whose runs are the pending writes stored against one checkpoint. */
export function writesSessionId(threadId: string, ns: string, checkpointId: string): string {
  return `lgw:${JSON.stringify([threadId, ns, checkpointId])}`;
}

/** Run key of a pending write: LangGraph's `(task_id, idx)` identity. */
export function writeKey(taskId: string, idx: number): string {
  return JSON.stringify([taskId, idx]);
}

/** A value serialised by the saver's `serde.dumpsTyped`: its type tag and its bytes as base64. */
export type StoredBlob = [type: string, base64: string];

/** One channel's value as stored with a checkpoint: its name, its version and its blob. */
export type StoredChannel = [channel: string, version: number | string, blob: StoredBlob];

/** A checkpoint as one run of its (thread, namespace) session, keyed by the checkpoint id. */
export interface CheckpointRun {
  /** The checkpoint without `channel_values`, serialised. */
  checkpoint: StoredBlob;
  /** Its metadata, serialised. */
  metadata: StoredBlob;
  /** The parent checkpoint's id, or `null` for the first one. */
  parent: string | null;
  /** The values of the channels whose version was written with this checkpoint or carried over from its parent. */
  channels: StoredChannel[];
}

/** A pending write as one run of its checkpoint's writes session, keyed by {@linkcode writeKey}. */
export interface WriteRun {
  /** The task that wrote it. */
  task: string;
  /** Its index among the task's writes (negative for LangGraph's special channels). */
  idx: number;
  /** The channel written. */
  channel: string;
  /** The task's path (`""` when none was given), the first part of LangGraph's writes sort key. */
  path: string;
  /** The value written, serialised. */
  value: StoredBlob;
}

/** A checkpoint run as JSON. */
export function checkpointRunJson(run: CheckpointRun): JsonObject {
  return { checkpoint: run.checkpoint, metadata: run.metadata, parent: run.parent, channels: run.channels };
}

/** A write run as JSON. */
export function writeRunJson(run: WriteRun): JsonObject {
  return { task: run.task, idx: run.idx, channel: run.channel, path: run.path, value: run.value };
}

function isBlob(value: JsonValue | undefined): value is StoredBlob {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string";
}

function isChannel(value: JsonValue): boolean {
  return Array.isArray(value) && value.length === 3 && typeof value[0] === "string" &&
    (typeof value[1] === "number" || typeof value[1] === "string") && isBlob(value[2]);
}

/** Reads a stored checkpoint run; `location` names it in the `CorruptRecordError` thrown when it has another shape. */
export function parseCheckpointRun(run: JsonObject, location: string): CheckpointRun {
  const { checkpoint, metadata, parent, channels } = run;
  const ok = isBlob(checkpoint) && isBlob(metadata) && (parent === null || typeof parent === "string") &&
    Array.isArray(channels) && channels.every(isChannel);
  if (!ok) throw new CorruptRecordError(location, "not a LangGraph checkpoint run");
  return { checkpoint, metadata, parent, channels: channels as StoredChannel[] };
}

/** Reads a stored write run; `location` names it in the `CorruptRecordError` thrown when it has another shape. */
export function parseWriteRun(run: JsonObject, location: string): WriteRun {
  const { task, idx, channel, path, value } = run;
  const ok = typeof task === "string" && Number.isSafeInteger(idx) && typeof channel === "string" &&
    typeof path === "string" && isBlob(value);
  if (!ok) throw new CorruptRecordError(location, "not a LangGraph pending-write run");
  return { task, idx: idx as number, channel, path, value };
}
