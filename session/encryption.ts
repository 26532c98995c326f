/**
 * Optional encryption at rest of a session's content fields (`memory`,
 * `sessionData`, `extraData`, the mode's `*Data`) and of runs, with WebCrypto
 * AES-GCM, so it works in Deno, Node, browsers and edge functions alike. Ids,
 * users, names and times stay in clear so listing keeps working.
 *
 * Format 2 (written now). Every encrypted field is stored as the JSON object
 * `{ "agentstate:aes-gcm": 2, "w": "<write tag>", "iv": "<base64>", "data": "<base64>" }`,
 * `null` included, so a field replaced by `null` or by plain JSON is refused.
 * Authenticated with each field: mode, session id, field name and the write
 * tag, a random value drawn once per write and shared by every field of that
 * write; fields of one record carrying different tags were mixed from
 * different writes (one field restored from an older version) and are refused.
 * A run is stored as `{ "agentstate:aes-gcm": 2, "iv", "data" }` bound to
 * mode, session id and its `seq`, so a run swapped, copied or moved within
 * the log does not decrypt.
 *
 * Format 1 (read only, written before): `{ "agentstate:aes-gcm": 1, "iv", "data" }`
 * bound to mode, session and field, with `null` stored as `null`. Records of
 * format 1 still read; a record mixing format 2 fields with anything else is
 * corrupt. Not detectable, by design of format 1: a whole record restored
 * from an older write, or a record whose every encrypted field was set to
 * `null` (it reads as a format 1 record with empty fields).
 *
 * @module
 */
import { fromBase64, toBase64 } from "./base64.ts";
import { CorruptRecordError, StorageError, ValidationError } from "./errors.ts";
import type { JsonObject, SessionMode } from "./types.ts";

const MARK = "agentstate:aes-gcm";

const NOT_ENCRYPTED = "it is stored in clear (set encryption: { allowPlaintext: true } to read such content)";

/** A key for `encryptionKey`: an AES-GCM `CryptoKey`, or 16, 24 or 32 raw key bytes. */
export type EncryptionKey = CryptoKey | Uint8Array;

/**
 * Decryption failed: a wrong key, a stored value that was altered, encrypted
 * content read without a key, or content in clear read with one. Nothing is
 * returned half-decrypted.
 */
export class DecryptionError extends StorageError {
  /** Creates the error for the value at `location`; `reason` defaults to a wrong key or altered value. */
  constructor(
    location: string,
    options?: ErrorOptions,
    reason = "wrong encryptionKey, or the stored value was altered",
  ) {
    super(`Cannot decrypt ${location}: ${reason}`, options);
    this.name = "DecryptionError";
  }
}

/** Whether `value` is an encrypted value as stored (an envelope of format 1 or 2). */
export function isSealed(value: unknown): boolean {
  return envelope(value) !== null;
}

interface Envelope {
  format: 1 | 2;
  tag?: string;
  iv: string;
  data: string;
}

/** The envelope stored for an encrypted value, or `null` when `value` is not one. */
function envelope(value: unknown): Envelope | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const format = v[MARK];
  if ((format !== 1 && format !== 2) || typeof v.iv !== "string" || typeof v.data !== "string") return null;
  if (format === 2 && v.w !== undefined && typeof v.w !== "string") return null;
  return { format, ...(typeof v.w === "string" ? { tag: v.w } : {}), iv: v.iv, data: v.data };
}

/** Encrypts and decrypts session fields and runs with one AES-GCM key. */
export class FieldCipher {
  #key: Promise<CryptoKey>;
  #mode: SessionMode;
  #allowPlaintext: boolean;

  /** Checks and imports `key`; with `allowPlaintext`, content stored in clear opens as it is. */
  constructor(key: EncryptionKey, mode: SessionMode, allowPlaintext = false) {
    this.#mode = mode;
    this.#allowPlaintext = allowPlaintext;
    if (key instanceof Uint8Array) {
      if (![16, 24, 32].includes(key.length)) {
        throw new ValidationError([{ path: ["encryptionKey"], message: "expected 16, 24 or 32 bytes" }]);
      }
      this.#key = crypto.subtle.importKey("raw", new Uint8Array(key), "AES-GCM", false, ["encrypt", "decrypt"]);
    } else if (typeof CryptoKey !== "undefined" && key instanceof CryptoKey && key.algorithm.name === "AES-GCM") {
      this.#key = Promise.resolve(key);
    } else {
      throw new ValidationError([{
        path: ["encryptionKey"],
        message: "expected an AES-GCM CryptoKey or raw key bytes",
      }]);
    }
  }

  /** What is authenticated with a value: format 1 binds mode, session and field; format 2 adds the write tag or seq. */
  #context(format: 1 | 2, sessionId: string, field: string, binding: string): Uint8Array<ArrayBuffer> {
    const parts = format === 1 ? [this.#mode, sessionId, field] : ["2", this.#mode, sessionId, field, binding];
    return new TextEncoder().encode(parts.join("\u0000"));
  }

  async #encrypt(value: JsonObject | null, context: Uint8Array<ArrayBuffer>): Promise<{ iv: string; data: string }> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: context },
      await this.#key,
      new TextEncoder().encode(JSON.stringify(value)),
    );
    return { iv: toBase64(iv), data: toBase64(new Uint8Array(data)) };
  }

  async #decrypt(sealed: Envelope, context: Uint8Array<ArrayBuffer>, location: string): Promise<JsonObject | null> {
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: fromBase64(sealed.iv), additionalData: context },
        await this.#key,
        fromBase64(sealed.data),
      );
      return JSON.parse(new TextDecoder().decode(plain));
    } catch (error) {
      throw new DecryptionError(location, { cause: error });
    }
  }

  /** Encrypts `fields` of `record` (`null` too) under one fresh write tag; other keys are copied. */
  async seal<T extends { sessionId: string }>(record: T, fields: readonly string[]): Promise<T> {
    const tag = toBase64(crypto.getRandomValues(new Uint8Array(12)));
    const out: Record<string, unknown> = { ...record };
    for (const field of fields) {
      const value = out[field] as JsonObject | null;
      const sealed = await this.#encrypt(value, this.#context(2, record.sessionId, field, tag));
      out[field] = { [MARK]: 2, w: tag, ...sealed };
    }
    return out as T;
  }

  /**
   * Decrypts what {@linkcode FieldCipher.seal} (or format 1) stored. Throws
   * `DecryptionError` on a wrong key or altered ciphertext, and
   * `CorruptRecordError` when the fields do not come from one write.
   */
  async open<T extends { sessionId: string }>(record: T, fields: readonly string[]): Promise<T> {
    const out: Record<string, unknown> = { ...record };
    const where = (field: string) => `${field} of session ${JSON.stringify(record.sessionId)}`;
    const sealed = fields.map((field) => [field, envelope(out[field])] as const);
    const format2 = sealed.find(([, e]) => e?.format === 2)?.[1];
    const odd = format2 && sealed.find(([, e]) => e?.format !== 2 || e.tag !== format2.tag);
    if (odd) {
      throw new CorruptRecordError(
        `session ${JSON.stringify(record.sessionId)}`,
        `encrypted field ${odd[0]} is missing, not encrypted, or from another write than the others`,
      );
    }
    for (const [field, e] of sealed) {
      if (e === null) {
        if (out[field] === null || this.#allowPlaintext) continue; // format 1 stored null as null
        throw new DecryptionError(where(field), undefined, NOT_ENCRYPTED);
      }
      out[field] = await this.#decrypt(e, this.#context(e.format, record.sessionId, field, e.tag ?? ""), where(field));
    }
    return out as T;
  }

  /** Encrypts `run`, bound to its session and `seq`. */
  async sealRun(run: JsonObject, sessionId: string, seq: number): Promise<JsonObject> {
    return { [MARK]: 2, ...await this.#encrypt(run, this.#context(2, sessionId, "run", String(seq))) };
  }

  /** Decrypts a run stored at `seq`; throws `DecryptionError` when it was moved, altered or is not encrypted. */
  async openRun(stored: unknown, sessionId: string, seq: number): Promise<JsonObject> {
    const location = `run ${seq} of session ${JSON.stringify(sessionId)}`;
    const e = envelope(stored);
    if (e === null && this.#allowPlaintext && typeof stored === "object" && stored !== null) {
      return stored as JsonObject;
    }
    if (e === null) throw new DecryptionError(location, undefined, NOT_ENCRYPTED);
    if (e.tag !== undefined) {
      throw new DecryptionError(location, { cause: new Error("the stored run is not an encrypted run") });
    }
    const run = await this.#decrypt(e, this.#context(e.format, sessionId, "run", String(seq)), location);
    if (typeof run !== "object" || run === null || Array.isArray(run)) {
      throw new CorruptRecordError(location, "the decrypted run is not a JSON object");
    }
    return run;
  }
}
