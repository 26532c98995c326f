/**
 * Error classes. Every error this package throws on purpose extends {@linkcode StorageError}.
 *
 * @module
 */

/** Options of {@linkcode StorageError}. */
export interface StorageErrorOptions extends ErrorOptions {
  /** The backend that failed, e.g. `"libsql"`. */
  backend?: string;
}

/**
 * Base class of this package's errors. Backend failures (network, auth, disk,
 * locked database) are thrown as a `StorageError` with the original in `cause`.
 *
 * @example Telling failures apart
 * ```ts ignore
 * try {
 *   await storage.upsert(session, { expectedVersion: 3 });
 * } catch (error) {
 *   if (error instanceof ConflictError) console.log("someone else wrote first");
 *   else throw error;
 * }
 * ```
 */
export class StorageError extends Error {
  /** The backend that failed, when known. */
  readonly backend: string | undefined;

  /** Creates an error; `options.cause` keeps the original failure. */
  constructor(message: string, options?: StorageErrorOptions) {
    super(message, options);
    this.name = "StorageError";
    this.backend = options?.backend;
  }
}

/** One problem found in an input: where it is and what is wrong. */
export interface ValidationIssue {
  /** Path to the bad value, e.g. `["memory", "messages", 3]`. */
  path: (string | number)[];
  /** What is wrong there. */
  message: string;
}

/** Renders a path like `memory.messages[3]`. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** An input (session, id, option or cursor) is invalid; nothing was stored. */
export class ValidationError extends StorageError {
  /** Every problem found, with its path. */
  readonly issues: ValidationIssue[];

  /** Creates an error listing `issues`; the message names the first paths. */
  constructor(issues: ValidationIssue[], options?: StorageErrorOptions) {
    const shown = issues.slice(0, 3).map((i) => `${formatPath(i.path)}: ${i.message}`);
    const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
    super(`Invalid input: ${shown.join("; ")}${more}`, options);
    this.name = "ValidationError";
    this.issues = issues;
  }
}

/** `expectedVersion` did not match the stored version; nothing was written. */
export class ConflictError extends StorageError {
  /** The session written. */
  readonly sessionId: string;
  /** The version the caller expected (`0`: absent). */
  readonly expected: number;
  /** The version stored (`0`: absent). */
  readonly actual: number;

  /** Creates a conflict for `sessionId`. */
  constructor(sessionId: string, expected: number, actual: number, options?: StorageErrorOptions) {
    super(
      `Version conflict on session ${JSON.stringify(sessionId)}: expected version ${expected}, found ${actual}`,
      options,
    );
    this.name = "ConflictError";
    this.sessionId = sessionId;
    this.expected = expected;
    this.actual = actual;
  }
}

/** The session exists and belongs to another user; nothing was written. */
export class UserMismatchError extends StorageError {
  /** The session written. */
  readonly sessionId: string;

  /** Creates the error for `sessionId`. */
  constructor(sessionId: string, options?: StorageErrorOptions) {
    super(`Session ${JSON.stringify(sessionId)} belongs to another user`, options);
    this.name = "UserMismatchError";
    this.sessionId = sessionId;
  }
}

/** The operation needs an existing session and there is none (absent, expired, or another user's). */
export class SessionNotFoundError extends StorageError {
  /** The session asked for. */
  readonly sessionId: string;

  /** Creates the error for `sessionId`. */
  constructor(sessionId: string, options?: StorageErrorOptions) {
    super(`Session ${JSON.stringify(sessionId)} not found`, options);
    this.name = "SessionNotFoundError";
    this.sessionId = sessionId;
  }
}

/** A stored record (file, key or row) cannot be read back as a session. */
export class CorruptRecordError extends StorageError {
  /** The file, key or row that is broken. */
  readonly location: string;

  /** Creates the error for the record at `location`. */
  constructor(location: string, detail: string, options?: StorageErrorOptions) {
    super(`Corrupt record at ${location}: ${detail}`, options);
    this.name = "CorruptRecordError";
    this.location = location;
  }
}

/**
 * A run-log write met another run than the caller expected: a key already
 * stored with other content (or held by a run an edit keeps), or a tail that
 * changed since it was read. Nothing was written.
 */
export class RunConflictError extends ConflictError {
  /** The key in question, or `null` when the tail changed. */
  readonly key: string | null;

  /** Creates the error for `sessionId` at `version`, saying what differed. */
  constructor(
    sessionId: string,
    version: number,
    detail: string,
    key: string | null = null,
    options?: StorageErrorOptions,
  ) {
    super(sessionId, version, version, options);
    this.message = `Run conflict on session ${JSON.stringify(sessionId)}: ${detail}`;
    this.name = "RunConflictError";
    this.key = key;
  }
}
