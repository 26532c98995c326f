/**
 * Per-mode field names, so backends can treat the three session kinds alike.
 *
 * @module
 */
import type { SessionMode } from "./types.ts";
import { ValidationError } from "./errors.ts";

/** The field names of one mode. */
export interface ModeFields {
  /** The entity id field: `agentId`, `teamId` or `workflowId`. */
  entity: "agentId" | "teamId" | "workflowId";
  /** Nullable string fields beyond `userId` and `sessionName` (entity first). */
  strings: readonly string[];
  /** Nullable JSON object fields, in stored order. */
  objects: readonly string[];
  /** Every field of a stored session, in canonical order. */
  all: readonly string[];
}

function fields(entity: ModeFields["entity"], others: string[], data: string): ModeFields {
  const strings = [entity, ...others];
  const objects = ["memory", "sessionData", "extraData", data];
  return {
    entity,
    strings,
    objects,
    all: ["sessionId", "userId", "sessionName", ...strings, ...objects, "createdAt", "updatedAt", "version"],
  };
}

/** Field names by mode. */
export const MODE_FIELDS: Readonly<Record<SessionMode, ModeFields>> = {
  agent: fields("agentId", ["teamSessionId"], "agentData"),
  team: fields("teamId", ["teamSessionId"], "teamData"),
  workflow: fields("workflowId", [], "workflowData"),
};

/** Returns `mode` (default `"agent"`), or throws `ValidationError` unless it is one of the three modes. */
export function checkMode(mode: unknown): SessionMode {
  if (mode === undefined) return "agent";
  if (mode === "agent" || mode === "team" || mode === "workflow") return mode;
  throw new ValidationError([{
    path: ["mode"],
    message: `expected "agent", "team" or "workflow", got ${JSON.stringify(mode)}`,
  }]);
}
