// The shapes of sessions, checked by hand (no schema library, so a browser bundle stays small). Each check returns
// the issues it found, with paths; parse.ts turns them into a ValidationError or a CorruptRecordError.
import { checkJson, isWellFormed } from "./_json.ts";
import type { ValidationIssue } from "./errors.ts";
import { MODE_FIELDS } from "./modes.ts";
import type { SessionMode } from "./types.ts";

// Lengths of ids and names are counted in characters, meaning Unicode code points (`[...text].length`): an emoji
// is one character, though it is two UTF-16 units in `text.length`.

/** Longest id accepted, in characters (code points). */
export const MAX_ID_LENGTH = 512;
/** Longest session name accepted, in characters (code points). */
export const MAX_NAME_LENGTH = 1024;

/**
 * Latest time accepted, in epoch milliseconds (year 33658): the largest that
 * every backend can index (Redis index members hold times as 15 digits).
 */
export const MAX_TIME = 999_999_999_999_999;

/** The number of characters (code points) of `text`, stopping once past `max`. */
export function characterCount(text: string, max: number): number {
  if (text.length <= max) return text.length; // never more code points than UTF-16 units
  let count = 0;
  for (const _ of text) if (++count > max) break;
  return count;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

/** What is wrong with `value` as an id (1–512 characters of well-formed text), or `undefined` when nothing is. */
export function idProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return `expected a string, got ${typeName(value)}`;
  if (value.length === 0) return "must not be empty";
  if (characterCount(value, MAX_ID_LENGTH) > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters`;
  if (!isWellFormed(value)) return "contains a lone surrogate";
  return undefined;
}

function nameProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return `expected a string or null, got ${typeName(value)}`;
  if (characterCount(value, MAX_NAME_LENGTH) > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`;
  if (!isWellFormed(value)) return "contains a lone surrogate";
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The issues of an upsert input of `mode`: a plain object with only the mode's
 * fields (unknown keys are refused, to catch typos), ids and names valid, JSON
 * objects checked deeply. `createdAt`, `updatedAt` and `version` may be present
 * (a read-back session written again) and are not checked.
 */
export function inputIssues(mode: SessionMode, input: unknown): ValidationIssue[] {
  if (!isObject(input)) return [{ path: [], message: `expected a session object, got ${typeName(input)}` }];
  const f = MODE_FIELDS[mode];
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(input)) {
    if (!f.all.includes(key)) {
      issues.push({ path: [], message: `unknown key ${JSON.stringify(key)} for ${mode} sessions` });
    }
  }
  const check = (key: string, problem: (value: unknown) => string | undefined, nullable: boolean) => {
    const value = input[key];
    if (nullable && (value === null || value === undefined)) return;
    const message = problem(value);
    if (message !== undefined) issues.push({ path: [key], message });
  };
  check("sessionId", idProblem, false);
  check("userId", idProblem, true);
  check("sessionName", nameProblem, true);
  for (const key of f.strings) check(key, idProblem, true);
  for (const key of f.objects) {
    const value = input[key];
    if (value === null || value === undefined) continue;
    if (!isObject(value)) issues.push({ path: [key], message: "expected a JSON object or null" });
    else checkJson(value, [key], issues);
  }
  return issues;
}

/** What is wrong with `value` as epoch milliseconds, or `undefined` when nothing is. */
export function timeProblem(value: unknown): string | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_TIME
    ? undefined
    : `expected epoch milliseconds (an integer from 0 to ${MAX_TIME})`;
}

/**
 * The issues of a session of `mode` read back from a backend: exactly the
 * mode's fields with their stored types. JSON objects are checked shallowly
 * (they came from `JSON.parse` or structured cloning).
 */
export function storedIssues(mode: SessionMode, record: unknown): ValidationIssue[] {
  if (!isObject(record)) return [{ path: [], message: `expected an object, got ${typeName(record)}` }];
  const f = MODE_FIELDS[mode];
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(record)) {
    if (!f.all.includes(key)) issues.push({ path: [], message: `unknown key ${JSON.stringify(key)}` });
  }
  for (const key of f.all) {
    const value = record[key];
    let message: string | undefined;
    if (key === "sessionId") message = typeof value === "string" && value !== "" ? undefined : "expected an id";
    else if (key === "createdAt" || key === "updatedAt") message = timeProblem(value);
    else if (key === "version") {
      message = Number.isSafeInteger(value) && (value as number) >= 1 ? undefined : "expected an integer of at least 1";
    } else if (f.objects.includes(key)) {
      message = value === null || isObject(value) ? undefined : "expected an object or null";
    } else message = value === null || typeof value === "string" ? undefined : "expected a string or null";
    if (message !== undefined) issues.push({ path: [key], message });
  }
  return issues;
}
