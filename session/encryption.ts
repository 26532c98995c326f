/**
 * Optional encryption at rest of a session's content fields (`memory`,
 * `sessionData`, `extraData`, the mode's `*Data`) and of runs, with WebCrypto
 * AES-GCM, so it works in Deno, Node, browsers and edge functions alike. Ids,
 * users, names and times stay in clear so listing keeps working.
 *
 * An encrypted field is stored as the JSON object
 * `{ "agentstate:aes-gcm": 1, "iv": "<base64>", "data": "<base64>" }`; the
 * session id, mode and field name are authenticated with it, so a value moved
 * to another session or field does not decrypt.
 *
 * @module
 */
import { StorageError, ValidationError } from "./errors.ts";
import type { JsonObject, SessionMode } from "./types.ts";

const MARK = "agentstate:aes-gcm";

/** A key for `encryptionKey`: an AES-GCM `CryptoKey`, or 16, 24 or 32 raw key bytes. */
export type EncryptionKey = CryptoKey | Uint8Array;

/** Decryption failed: a wrong key, or a stored value that was altered. Nothing is returned half-decrypted. */
export class DecryptionError extends StorageError {
  /** Creates the error for the value at `location`. */
  constructor(location: string, options?: ErrorOptions) {
    super(`Cannot decrypt ${location}: wrong encryptionKey, or the stored value was altered`, options);
    this.name = "DecryptionError";
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Encrypts and decrypts JSON objects with one AES-GCM key. */
export class FieldCipher {
  #key: Promise<CryptoKey>;
  #mode: SessionMode;

  /** Checks and imports `key`. */
  constructor(key: EncryptionKey, mode: SessionMode) {
    this.#mode = mode;
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

  #context(sessionId: string, field: string): Uint8Array<ArrayBuffer> {
    return new TextEncoder().encode(`${this.#mode}\u0000${sessionId}\u0000${field}`);
  }

  /** Encrypts `value` (a JSON object or `null`) for `field` of `sessionId`. */
  async encrypt(value: JsonObject | null, sessionId: string, field: string): Promise<JsonObject | null> {
    if (value === null) return null;
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: this.#context(sessionId, field) },
      await this.#key,
      new TextEncoder().encode(JSON.stringify(value)),
    );
    return { [MARK]: 1, iv: toBase64(iv), data: toBase64(new Uint8Array(data)) };
  }

  /** Decrypts what {@linkcode FieldCipher.encrypt} made; throws `DecryptionError` on a wrong key or altered data. */
  async decrypt(value: JsonObject | null, sessionId: string, field: string): Promise<JsonObject | null> {
    if (value === null) return null;
    const location = `${field} of session ${JSON.stringify(sessionId)}`;
    if (value[MARK] !== 1 || typeof value.iv !== "string" || typeof value.data !== "string") {
      throw new DecryptionError(location, { cause: new Error("the stored value is not encrypted") });
    }
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: fromBase64(value.iv), additionalData: this.#context(sessionId, field) },
        await this.#key,
        fromBase64(value.data),
      );
      return JSON.parse(new TextDecoder().decode(plain));
    } catch (error) {
      throw new DecryptionError(location, { cause: error });
    }
  }
}
