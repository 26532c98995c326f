/**
 * {@linkcode ContentSealer}: what happens to content on its way to a driver
 * and back — the Standard Schema validators, encryption at rest (session
 * fields under one write tag, runs bound to their `seq`) and run digests.
 *
 * @module
 */
import { DecryptionError, FieldCipher, isSealed } from "./encryption.ts";
import { checkOptions } from "./parse.ts";
import { ValidationError } from "./errors.ts";
import { MODE_FIELDS } from "./modes.ts";
import { RunDigester } from "./run_digest.ts";
import { applySchema, checkSchemas, type ContentSchemas } from "./standard_schema.ts";
import type { BaseStorageOptions, JsonObject, RunRecord, SessionMode } from "./types.ts";

const NO_KEY = "it is encrypted and this storage has no encryptionKey";

/** Seals content for storing and opens what was stored, for one storage. */
export class ContentSealer {
  readonly #fields: readonly string[];
  readonly #cipher: FieldCipher | null;
  readonly #schemas: ContentSchemas;
  readonly #digester: RunDigester;
  /** Without a key: whether encrypted content passes through as stored (else it is a DecryptionError). */
  readonly #keepSealed: boolean;

  /** A sealer for `mode` with the storage's `encryptionKey`, `encryption` and `schemas` options (checked here). */
  constructor(
    mode: SessionMode,
    options: Pick<BaseStorageOptions<SessionMode>, "encryptionKey" | "encryption" | "schemas"> | undefined,
  ) {
    this.#fields = MODE_FIELDS[mode].objects;
    this.#schemas = checkSchemas(options?.schemas);
    const encryption = checkOptions(options?.encryption, ["allowPlaintext", "keepSealed"], "encryption") ?? {};
    const hasKey = options?.encryptionKey !== undefined;
    for (const [name, needsKey] of [["allowPlaintext", true], ["keepSealed", false]] as const) {
      const value = encryption[name];
      if (value !== undefined && typeof value !== "boolean") {
        throw new ValidationError([{ path: ["encryption", name], message: "expected a boolean" }]);
      }
      if (value && hasKey !== needsKey) {
        const message = needsKey ? "needs an encryptionKey" : "is for a storage without an encryptionKey";
        throw new ValidationError([{ path: ["encryption", name], message }]);
      }
    }
    this.#keepSealed = encryption.keepSealed === true;
    this.#cipher = options?.encryptionKey === undefined
      ? null
      : new FieldCipher(options.encryptionKey, mode, encryption.allowPlaintext === true);
    this.#digester = new RunDigester(options?.encryptionKey);
  }

  /** Whether content is encrypted (then session fields are sealed together and runs bound to their seq). */
  get encrypted(): boolean {
    return this.#cipher !== null;
  }

  /** Validates the content fields present and, with a key, encrypts every content field under one write tag. */
  async seal<T extends { sessionId: string }>(content: T): Promise<T> {
    const checked = await this.#validate(content as T & Record<string, unknown>);
    if (this.#cipher !== null) return await this.#cipher.seal(checked, this.#fields);
    const record = checked as Record<string, unknown>;
    this.#refuseEnvelopes(this.#fields.filter((name) => isSealed(record[name])).map((name) => [name]));
    return checked;
  }

  /** Decrypts (with a key) and validates a stored session. */
  async open<T extends { sessionId: string } | null>(session: T): Promise<T> {
    if (session === null) return session;
    if (this.#cipher === null) this.#refuseSealed(session);
    const plain = this.#cipher === null ? session : await this.#cipher.open(session, this.#fields);
    return await this.#validate(plain as T & Record<string, unknown>);
  }

  /** {@linkcode ContentSealer.open} of each session. */
  openAll<T extends { sessionId: string }>(sessions: T[]): Promise<T[]> {
    if (this.#cipher !== null || this.#hasSessionSchemas()) return Promise.all(sessions.map((s) => this.open(s)));
    try {
      for (const session of sessions) this.#refuseSealed(session);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(sessions);
  }

  /** Validates a run and, with a key, encrypts it bound to `seq`. */
  async sealRun(sessionId: string, run: JsonObject, seq: number): Promise<JsonObject> {
    const checked = await applySchema(this.#schemas.run, run, ["run"]) as JsonObject;
    if (this.#cipher !== null) return await this.#cipher.sealRun(checked, sessionId, seq);
    this.#refuseEnvelopes(isSealed(checked) ? [["run"]] : []);
    return checked;
  }

  /** Decrypts (with a key) and validates stored runs. */
  async openRuns(sessionId: string, runs: RunRecord[]): Promise<RunRecord[]> {
    const cipher = this.#cipher;
    const schema = this.#schemas.run;
    if (cipher === null && !this.#keepSealed) {
      const sealed = runs.find((r) => isSealed(r.run));
      if (sealed) {
        throw new DecryptionError(`run ${sealed.seq} of session ${JSON.stringify(sessionId)}`, undefined, NO_KEY);
      }
    }
    if (cipher === null && schema === undefined) return runs;
    return await Promise.all(runs.map(async (r) => {
      const run = cipher === null ? r.run : await cipher.openRun(r.run, sessionId, r.seq);
      return { ...r, run: await applySchema(schema, run, ["run"]) as JsonObject };
    }));
  }

  /** The digest of a keyed run's plain content (keyed by the encryption key when there is one). */
  digest(run: JsonObject): Promise<string> {
    return this.#digester.digest(run);
  }

  /**
   * Without a key (and without `keepSealed`): throws `ValidationError` for content shaped like an encrypted value,
   * which this storage could not read back.
   */
  #refuseEnvelopes(paths: string[][]): void {
    if (this.#keepSealed || paths.length === 0) return;
    const message = 'has the shape of an encrypted value ("agentstate:aes-gcm"), which only keepSealed storages write';
    throw new ValidationError(paths.map((path) => ({ path, message })));
  }

  /** Without a key (and without `keepSealed`): throws `DecryptionError` when a content field is encrypted. */
  #refuseSealed(session: { sessionId: string }): void {
    if (this.#keepSealed) return;
    const record = session as unknown as Record<string, unknown>;
    const field = this.#fields.find((name) => isSealed(record[name]));
    if (field !== undefined) {
      throw new DecryptionError(`${field} of session ${JSON.stringify(session.sessionId)}`, undefined, NO_KEY);
    }
  }

  #hasSessionSchemas(): boolean {
    return this.#schemas.memory !== undefined || this.#schemas.sessionData !== undefined;
  }

  /** Applies the `memory` and `sessionData` schemas, when set, to the fields present. */
  async #validate<T extends Record<string, unknown>>(content: T): Promise<T> {
    if (!this.#hasSessionSchemas()) return content;
    const out: Record<string, unknown> = { ...content };
    for (const field of ["memory", "sessionData"] as const) {
      if (field in out) out[field] = await applySchema(this.#schemas[field], out[field], [field]);
    }
    return out as T;
  }
}
