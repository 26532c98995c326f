/**
 * Validation of what enters storage and of what is read back.
 *
 * @module
 */
import { CorruptRecordError, ValidationError } from "./errors.ts";
import { characterCount, idProblem, inputIssues, MAX_NAME_LENGTH, storedIssues, timeProblem } from "./_schemas.ts";
import { isWellFormed } from "./_json.ts";
import { MODE_FIELDS } from "./modes.ts";
import type { SessionMode, SessionOf } from "./types.ts";

/** A validated upsert input: every field of the mode present (missing ones `null`), storage fields removed. */
export type SessionContent<M extends SessionMode> = Omit<SessionOf<M>, "createdAt" | "updatedAt" | "version">;

/**
 * Validates an upsert input of `mode` and returns its content with missing
 * fields set to `null`. Throws `ValidationError` naming every bad path.
 *
 * @example Missing fields become null
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSessionInput } from "./parse.ts";
 * const content = parseSessionInput("agent", { sessionId: "s1", memory: { a: 1 } });
 * assert.equal(content.userId, null);
 * assert.deepEqual(content.memory, { a: 1 });
 * ```
 */
export function parseSessionInput<M extends SessionMode>(mode: M, input: unknown): SessionContent<M> {
  const issues = inputIssues(mode, input);
  if (issues.length > 0) throw new ValidationError(issues);
  const record = input as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of MODE_FIELDS[mode].all) {
    if (key === "createdAt" || key === "updatedAt" || key === "version") continue;
    out[key] = record[key] ?? null;
  }
  return out as SessionContent<M>;
}

/**
 * Validates a record read back from a backend. Throws `CorruptRecordError`
 * naming `location` (a file, key or row) when it is not a session of `mode`.
 */
export function parseStoredSession<M extends SessionMode>(mode: M, record: unknown, location: string): SessionOf<M> {
  const first = storedIssues(mode, record)[0];
  if (first) {
    const where = first.path.length > 0 ? `${first.path.join(".")}: ` : "";
    throw new CorruptRecordError(location, `not a valid ${mode} session (${where}${first.message})`);
  }
  // Rebuilt in the canonical field order, so sessions read back print alike on every backend.
  const session: Record<string, unknown> = {};
  for (const name of MODE_FIELDS[mode].all) session[name] = (record as Record<string, unknown>)[name];
  return session as unknown as SessionOf<M>;
}

/** Throws `ValidationError` unless `value` is a valid id (1–512 characters, well-formed). */
export function checkId(value: unknown, name: string): string {
  const message = idProblem(value);
  if (message !== undefined) throw new ValidationError([{ path: [name], message }]);
  return value as string;
}

/** Throws `ValidationError` unless `value` is `undefined` or a valid id. */
export function checkOptionalId(value: unknown, name: string): string | undefined {
  return value === undefined ? undefined : checkId(value, name);
}

/** Throws `ValidationError` unless `value` is `null` or a valid session name. */
export function checkSessionName(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== "string") {
    throw new ValidationError([{ path: ["sessionName"], message: "expected a string or null" }]);
  }
  if (characterCount(value, MAX_NAME_LENGTH) > MAX_NAME_LENGTH || !isWellFormed(value)) {
    throw new ValidationError([{
      path: ["sessionName"],
      message: `must be well-formed text of at most ${MAX_NAME_LENGTH} characters`,
    }]);
  }
  return value;
}

/** Throws `ValidationError` unless `value` is `undefined` or an integer in `[min, max]`. */
export function checkInteger(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError([{ path: [name], message: `expected an integer from ${min} to ${max}` }]);
  }
  return value;
}

/**
 * Validates a whole session as exported (content plus `createdAt`,
 * `updatedAt` and `version`), for `importSessions`. Throws `ValidationError`.
 */
export function parseSessionRecord<M extends SessionMode>(mode: M, record: unknown): SessionOf<M> {
  const content = parseSessionInput(mode, record);
  const r = record as Record<string, unknown>;
  const issues: { path: (string | number)[]; message: string }[] = [];
  for (const name of ["createdAt", "updatedAt"]) {
    const message = timeProblem(r[name]);
    if (message !== undefined) issues.push({ path: [name], message });
  }
  if (!Number.isSafeInteger(r.version) || (r.version as number) < 1) {
    issues.push({ path: ["version"], message: "expected an integer of at least 1" });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { ...content, createdAt: r.createdAt, updatedAt: r.updatedAt, version: r.version } as SessionOf<M>;
}

/**
 * Throws `ValidationError` unless `value` is `undefined` or a plain object
 * (not `null`, an array or a class instance) whose keys are all in `allowed` (a misspelt option is an error, never
 * ignored). Returns `value`.
 *
 * @example A typo is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptions } from "./parse.ts";
 * assert.throws(() => checkOptions({ userID: "ada" }, ["userId"], "options"), /userID: unknown option/);
 * ```
 */
export function checkOptions<T>(value: T, allowed: readonly string[], name: string): T {
  if (value === undefined) return value;
  const proto = typeof value === "object" && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new ValidationError([{ path: [name], message: "expected a plain options object" }]);
  }
  const issues = Object.keys(value as object).filter((key) => !allowed.includes(key)).map((key) => ({
    path: [key],
    message: `unknown option of ${name}; expected ${allowed.length === 0 ? "none" : allowed.join(", ")}` +
      suggestion(key, allowed),
  }));
  if (issues.length > 0) throw new ValidationError(issues);
  return value;
}

function suggestion(key: string, allowed: readonly string[]): string {
  const near = allowed.find((name) => name.toLowerCase() === key.toLowerCase() || editDistance(name, key) <= 2);
  return near === undefined ? "" : ` (did you mean ${near}?)`;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}
