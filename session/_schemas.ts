// zod schemas of sessions; private so zod's types stay out of the public API.
import { z } from "zod";
import { checkJson, isWellFormed } from "./_json.ts";
import { MODE_FIELDS } from "./modes.ts";
import type { SessionMode } from "./types.ts";

// Lengths of ids and names are counted in characters, meaning Unicode code points (`[...text].length`): an emoji
// is one character, though it is two UTF-16 units in `text.length`. Counted here, not by zod, to say it once.

/** Longest id accepted, in characters (code points). */
export const MAX_ID_LENGTH = 512;
/** Longest session name accepted, in characters (code points). */
export const MAX_NAME_LENGTH = 1024;

/** The number of characters (code points) of `text`, stopping once past `max`. */
export function characterCount(text: string, max: number): number {
  if (text.length <= max) return text.length; // never more code points than UTF-16 units
  let count = 0;
  for (const _ of text) if (++count > max) break;
  return count;
}

const wellFormed = (s: string) => isWellFormed(s);

/** A session id, user id or entity id: 1–512 characters of well-formed text. */
export const idSchema: z.ZodType<string> = z.string()
  .min(1, "must not be empty")
  .refine((s) => characterCount(s, MAX_ID_LENGTH) <= MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`)
  .refine(wellFormed, "contains a lone surrogate");

const nameSchema = z.string()
  .refine((s) => characterCount(s, MAX_NAME_LENGTH) <= MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`)
  .refine(wellFormed, "contains a lone surrogate");

/** A JSON object checked deeply (see `_json.ts`); issues carry the full path. */
const jsonObjectSchema = z.custom<Record<string, unknown>>().superRefine((value, ctx) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: "custom", message: "expected a JSON object or null" });
    return;
  }
  const issues: { path: (string | number)[]; message: string }[] = [];
  checkJson(value, [], issues);
  for (const issue of issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
});

/**
 * Latest time accepted, in epoch milliseconds (year 33658): the largest that
 * every backend can index (Redis index members hold times as 15 digits).
 */
export const MAX_TIME = 999_999_999_999_999;

const timeSchema = z.number().int().nonnegative().max(MAX_TIME, `must be at most ${MAX_TIME}`);

function inputShape(mode: SessionMode): Record<string, z.ZodType> {
  const f = MODE_FIELDS[mode];
  const shape: Record<string, z.ZodType> = {
    sessionId: idSchema,
    userId: idSchema.nullish(),
    sessionName: nameSchema.nullish(),
    // Present when a read-back session is written again; ignored.
    createdAt: z.unknown().optional(),
    updatedAt: z.unknown().optional(),
    version: z.unknown().optional(),
  };
  for (const name of f.strings) shape[name] = idSchema.nullish();
  for (const name of f.objects) shape[name] = jsonObjectSchema.nullish();
  return shape;
}

function storedShape(mode: SessionMode): Record<string, z.ZodType> {
  const f = MODE_FIELDS[mode];
  const shape: Record<string, z.ZodType> = {};
  // In the canonical field order, so sessions read back print alike on every backend.
  for (const name of f.all) {
    if (name === "sessionId") shape[name] = z.string().min(1);
    else if (name === "createdAt" || name === "updatedAt") shape[name] = timeSchema;
    else if (name === "version") shape[name] = z.number().int().positive();
    // Stored JSON came from JSON.parse, so a shallow check is enough.
    else if (f.objects.includes(name)) shape[name] = z.record(z.string(), z.unknown()).nullable();
    else shape[name] = z.string().nullable();
  }
  return shape;
}

/** Upsert input schemas by mode (unknown keys rejected, to catch typos). */
export const inputSchemas: Record<SessionMode, z.ZodType<Record<string, unknown>>> = {
  agent: z.strictObject(inputShape("agent")),
  team: z.strictObject(inputShape("team")),
  workflow: z.strictObject(inputShape("workflow")),
};

/** Stored session schemas by mode. */
export const storedSchemas: Record<SessionMode, z.ZodType<Record<string, unknown>>> = {
  agent: z.strictObject(storedShape("agent")),
  team: z.strictObject(storedShape("team")),
  workflow: z.strictObject(storedShape("workflow")),
};

/** Converts zod issues to our plain issues. */
export function toIssues(error: z.ZodError): { path: (string | number)[]; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path.filter((p): p is string | number => typeof p !== "symbol"),
    message: issue.message,
  }));
}
