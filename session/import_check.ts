/**
 * Checks the entries `importSessions` takes: a stored session each (with its
 * times and version) and its runs numbered from 1, keys unique.
 *
 * @module
 */
import { checkJson, cloneJson } from "./_json.ts";
import { ValidationError, type ValidationIssue } from "./errors.ts";
import { parseSessionRecord } from "./parse.ts";
import type { RunRecord, SessionExport, SessionMode, SessionOf } from "./types.ts";

/** Checks every entry and that no session id appears twice; returns copies (runs' `key` defaulting to `null`). */
export function checkImport<M extends SessionMode>(mode: M, entries: unknown): SessionExport<SessionOf<M>>[] {
  if (!Array.isArray(entries)) throw new ValidationError([{ path: [], message: "expected an array of entries" }]);
  const checked = entries.map((entry, i) => checkEntry(mode, entry, i));
  const ids = new Set<string>();
  for (const [i, entry] of checked.entries()) {
    if (ids.has(entry.session.sessionId)) {
      throw new ValidationError([{ path: [i, "session", "sessionId"], message: "appears twice in one import" }]);
    }
    ids.add(entry.session.sessionId);
  }
  return checked;
}

function checkEntry<M extends SessionMode>(mode: M, entry: unknown, i: number): SessionExport<SessionOf<M>> {
  const prefix = (error: unknown): never => {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(error.issues.map((issue) => ({ ...issue, path: [i, ...issue.path] })), { cause: error });
  };
  const e = entry as { session?: unknown; runs?: unknown } | null;
  if (typeof e !== "object" || e === null) {
    prefix(new ValidationError([{ path: [], message: "expected { session, runs }" }]));
  }
  let session: SessionOf<M>;
  try {
    session = parseSessionRecord(mode, e!.session);
  } catch (error) {
    return prefix(error);
  }
  const runs = e!.runs ?? [];
  if (!Array.isArray(runs)) return prefix(new ValidationError([{ path: ["runs"], message: "expected an array" }]));
  const issues: ValidationIssue[] = [];
  const keys = new Set<string>();
  for (const [k, record] of runs.entries()) {
    const r = record as Partial<RunRecord> | null;
    if (r?.seq !== k + 1) issues.push({ path: ["runs", k, "seq"], message: `expected ${k + 1} (runs count from 1)` });
    if (!Number.isSafeInteger(r?.createdAt) || r!.createdAt! < 0) {
      issues.push({ path: ["runs", k, "createdAt"], message: "expected epoch milliseconds" });
    }
    if (r?.key != null) {
      if (typeof r.key !== "string" || r.key.length === 0 || keys.has(r.key)) {
        issues.push({ path: ["runs", k, "key"], message: "expected a non-empty key, unique within the session" });
      } else keys.add(r.key);
    }
    if (typeof r?.run !== "object" || r.run === null || Array.isArray(r.run)) {
      issues.push({ path: ["runs", k, "run"], message: "expected a JSON object" });
    } else checkJson(r.run, ["runs", k, "run"], issues);
    if (issues.length > 10) break;
  }
  if (issues.length > 0) prefix(new ValidationError(issues));
  const withKeys = (runs as RunRecord[]).map((r) => ({ ...r, key: r.key ?? null }));
  return cloneJson({ session, runs: withKeys });
}
