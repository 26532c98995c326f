/**
 * Argument checks of the run-log methods: runs, keys, addresses and the
 * suffix `replaceRuns` expects, with the `ValidationError`s they throw.
 *
 * @module
 */
import { checkJson, copyCheckedJson } from "./_json.ts";
import { ValidationError, type ValidationIssue } from "./errors.ts";
import { checkId, checkInteger } from "./parse.ts";
import type { JsonObject, RunAddress, RunRecord } from "./types.ts";

/** Largest number of runs one `appendRuns` call takes. */
export const MAX_RUNS_PER_APPEND = 1000;

/** Checks a run array: 1 to {@linkcode MAX_RUNS_PER_APPEND} plain JSON objects; returns a copy. */
export function checkRuns(runs: unknown, name: string): JsonObject[] {
  if (!Array.isArray(runs) || runs.length === 0 || runs.length > MAX_RUNS_PER_APPEND) {
    throw new ValidationError([{
      path: [name],
      message: `expected an array of 1 to ${MAX_RUNS_PER_APPEND} JSON objects`,
    }]);
  }
  const issues: ValidationIssue[] = [];
  for (const [i, run] of runs.entries()) {
    if (typeof run !== "object" || run === null || Array.isArray(run)) {
      issues.push({ path: [name, i], message: "expected a JSON object" });
    } else checkJson(run, [name, i], issues);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return copyCheckedJson(runs) as JsonObject[];
}

/** Checks one key per run (`null` for none), unique within the call; all `null` when `keys` is absent. */
export function checkKeys(keys: unknown, count: number, name: string): (string | null)[] {
  if (keys === undefined) return new Array(count).fill(null);
  if (!Array.isArray(keys) || keys.length !== count) {
    throw new ValidationError([{ path: [name], message: `expected an array of ${count} keys (string or null)` }]);
  }
  const seen = new Set<string>();
  return keys.map((key, i) => {
    if (key === null) return null;
    const checked = checkRunKey(key, `${name}[${i}]`);
    if (seen.has(checked)) throw new ValidationError([{ path: [name, i], message: "appears twice in one call" }]);
    seen.add(checked);
    return checked;
  });
}

/** A run key has the same form as an id. */
export function checkRunKey(key: unknown, name: string): string {
  return checkId(key, name);
}

export function checkVersion(value: unknown): number | undefined {
  return checkInteger(value, "expectedVersion", 0, Number.MAX_SAFE_INTEGER);
}

export function checkAddress(at: unknown, allowZero: boolean): RunAddress {
  const fail = (): never => {
    throw new ValidationError([{ path: ["at"], message: "expected { seq } (a positive integer) or { key }" }]);
  };
  if (typeof at !== "object" || at === null || Array.isArray(at)) return fail();
  const keys = Object.keys(at);
  if (keys.length !== 1) return fail();
  const a = at as Record<string, unknown>;
  if (keys[0] === "key") return { key: checkRunKey(a.key, "at.key") };
  if (keys[0] !== "seq") return fail();
  return { seq: checkInteger(a.seq, "at.seq", allowZero ? 0 : 1, Number.MAX_SAFE_INTEGER)! };
}

export function checkSuffix(suffix: unknown): RunRecord[] {
  if (!Array.isArray(suffix)) {
    throw new ValidationError([{ path: ["expectedSuffix"], message: "expected an array of runs" }]);
  }
  suffix.forEach((r, i) => {
    const ok = typeof r === "object" && r !== null && Number.isSafeInteger(r.seq) && r.seq >= 1 &&
      r.seq === (suffix[0] as RunRecord).seq + i && typeof r.run === "object" && r.run !== null;
    if (!ok) {
      throw new ValidationError([{
        path: ["expectedSuffix", i],
        message: "expected runs as read, with contiguous seqs",
      }]);
    }
  });
  return suffix as RunRecord[];
}

export function sameRuns(actual: RunRecord[], expected: RunRecord[]): boolean {
  return actual.length === expected.length && actual.every((r, i) => {
    const e = expected[i]!;
    return r.seq === e.seq && r.key === (e.key ?? null) && JSON.stringify(r.run) === JSON.stringify(e.run);
  });
}

export function missing(at: RunAddress): ValidationError {
  const where = "key" in at ? `key ${JSON.stringify(at.key)}` : `seq ${at.seq}`;
  return new ValidationError([{ path: ["at"], message: `no run at ${where}` }]);
}
