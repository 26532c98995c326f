/**
 * {@linkcode ContentSealer}: what happens to content on its way to a driver
 * and back — the Standard Schema validators, encryption at rest (session
 * fields under one write tag, runs bound to their `seq`) and run digests.
 *
 * @module
 */
import { FieldCipher } from "./encryption.ts";
import { MODE_FIELDS } from "./modes.ts";
import { RunDigester } from "./run_digest.ts";
import { applySchema, checkSchemas, type ContentSchemas } from "./standard_schema.ts";
import type { BaseStorageOptions, JsonObject, RunRecord, SessionMode } from "./types.ts";

/** Seals content for storing and opens what was stored, for one storage. */
export class ContentSealer {
  readonly #fields: readonly string[];
  readonly #cipher: FieldCipher | null;
  readonly #schemas: ContentSchemas;
  readonly #digester: RunDigester;

  /** A sealer for `mode` with the storage's `encryptionKey` and `schemas` options (checked here). */
  constructor(
    mode: SessionMode,
    options: Pick<BaseStorageOptions<SessionMode>, "encryptionKey" | "schemas"> | undefined,
  ) {
    this.#fields = MODE_FIELDS[mode].objects;
    this.#schemas = checkSchemas(options?.schemas);
    this.#cipher = options?.encryptionKey === undefined ? null : new FieldCipher(options.encryptionKey, mode);
    this.#digester = new RunDigester(options?.encryptionKey);
  }

  /** Whether content is encrypted (then session fields are sealed together and runs bound to their seq). */
  get encrypted(): boolean {
    return this.#cipher !== null;
  }

  /** Validates the content fields present and, with a key, encrypts every content field under one write tag. */
  async seal<T extends { sessionId: string }>(content: T): Promise<T> {
    const checked = await this.#validate(content as T & Record<string, unknown>);
    return this.#cipher === null ? checked : await this.#cipher.seal(checked, this.#fields);
  }

  /** Decrypts (with a key) and validates a stored session. */
  async open<T extends { sessionId: string } | null>(session: T): Promise<T> {
    if (session === null) return session;
    const plain = this.#cipher === null ? session : await this.#cipher.open(session, this.#fields);
    return await this.#validate(plain as T & Record<string, unknown>);
  }

  /** {@linkcode ContentSealer.open} of each session. */
  openAll<T extends { sessionId: string }>(sessions: T[]): Promise<T[]> {
    const plain = this.#cipher === null && !this.#hasSessionSchemas();
    return plain ? Promise.resolve(sessions) : Promise.all(sessions.map((s) => this.open(s)));
  }

  /** Validates a run and, with a key, encrypts it bound to `seq`. */
  async sealRun(sessionId: string, run: JsonObject, seq: number): Promise<JsonObject> {
    const checked = await applySchema(this.#schemas.run, run, ["run"]) as JsonObject;
    return this.#cipher === null ? checked : await this.#cipher.sealRun(checked, sessionId, seq);
  }

  /** Decrypts (with a key) and validates stored runs. */
  async openRuns(sessionId: string, runs: RunRecord[]): Promise<RunRecord[]> {
    const cipher = this.#cipher;
    const schema = this.#schemas.run;
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
