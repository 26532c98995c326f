/**
 * `patch` and `update`: read-modify-write over a storage's own `read` and
 * `upsert`, at the version read, planned again after a `ConflictError`.
 *
 * @module
 */
import { cloneJson } from "./_json.ts";
import { ConflictError, SessionNotFoundError, ValidationError } from "./errors.ts";
import { checkInteger, checkOptions } from "./parse.ts";
import type { EditOptions, SessionLike, UpdateOptions, UpsertOptions } from "./types.ts";

/** The two methods read-modify-write needs. */
interface ReadWrite<S extends SessionLike, I> {
  backend: string;
  read(sessionId: string, userId?: string): Promise<S | null>;
  upsert(input: I, options?: UpsertOptions): Promise<S>;
}

/** How many times a `patch` without `expectedVersion` is tried. */
const PATCH_ATTEMPTS = 5;

/** Changes only `fields` of the session, at the version read (or `options.expectedVersion`). */
export async function patchSession<S extends SessionLike, I>(
  storage: ReadWrite<S, I>,
  sessionId: string,
  fields: object,
  options: EditOptions | undefined,
): Promise<S> {
  checkOptions(options, ["userId", "expectedVersion"], "patch options");
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new ValidationError([{ path: ["fields"], message: "expected an object of session fields" }]);
  }
  for (const key of ["sessionId", "userId"]) {
    if (key in fields) throw new ValidationError([{ path: ["fields", key], message: "cannot be patched" }]);
  }
  const expectedVersion = options?.expectedVersion;
  return await retrying(expectedVersion === undefined ? PATCH_ATTEMPTS : 1, async () => {
    const current = await storage.read(sessionId, options?.userId);
    if (current === null) throw new SessionNotFoundError(String(sessionId), { backend: storage.backend });
    const next = { ...current, ...fields } as unknown as I;
    return await storage.upsert(next, { expectedVersion: expectedVersion ?? current.version });
  });
}

/** Reads, applies `fn` (given `null` when absent), writes at the version read; `retries` more tries after conflicts. */
export async function updateSession<S extends SessionLike, I>(
  storage: ReadWrite<S, I>,
  sessionId: string,
  fn: (session: S | null) => I | Promise<I>,
  options: UpdateOptions | undefined,
): Promise<S> {
  checkOptions(options, ["userId", "retries"], "update options");
  if (typeof fn !== "function") throw new ValidationError([{ path: ["fn"], message: "expected a function" }]);
  const retries = checkInteger(options?.retries, "retries", 0, 100) ?? 5;
  return await retrying(retries + 1, async () => {
    const current = await storage.read(sessionId, options?.userId);
    const next = await fn(current === null ? null : cloneJson(current));
    if ((next as { sessionId?: unknown } | null)?.sessionId !== sessionId) {
      throw new ValidationError([{
        path: ["sessionId"],
        message: `fn must return session ${JSON.stringify(sessionId)}`,
      }]);
    }
    return await storage.upsert(next, { expectedVersion: current?.version ?? 0 });
  });
}

/** Runs `attempt` up to `times` times while it throws a `ConflictError`; the last one is thrown. */
async function retrying<T>(times: number, attempt: () => Promise<T>): Promise<T> {
  for (let i = 1;; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof ConflictError) || i >= times) throw error;
    }
  }
}
