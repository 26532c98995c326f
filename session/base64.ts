/**
 * Standard base64 (with padding) for bytes stored inside JSON: encrypted
 * values and the LangGraph saver's serialised blobs. Uses the runtime's
 * `Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64` where it has them
 * (Deno 2, recent browsers); else encodes with `node:buffer` where the
 * runtime has it (Node.js, Bun: about 1 µs per 2 KB), else with a lookup table
 * (Node 20's `btoa` takes about 3 times as long on 2 KB); decodes canonical
 * base64 with `node:buffer` where there is one (Node 20: ~2.5 µs per 2 KB,
 * `atob` ~6.5) and anything else with `atob`, which refuses text that is not
 * base64.
 *
 * @module
 */

import { nodeBuiltin } from "./_node.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

interface NativeBase64 {
  toBase64?: (this: Uint8Array) => string;
}
const nativeEncode = (Uint8Array.prototype as NativeBase64).toBase64;
const nativeDecode = (Uint8Array as unknown as { fromBase64?: (text: string) => Uint8Array<ArrayBuffer> }).fromBase64;

type NodeBuffer = Uint8Array<ArrayBuffer> & { toString(encoding: "base64"): string };
const nodeBuffer = nodeBuiltin<{
  Buffer: {
    from(buffer: ArrayBufferLike, offset: number, length: number): NodeBuffer;
    from(text: string, encoding: "base64"): NodeBuffer;
  };
}>("buffer");

/**
 * Encodes with `node:buffer` (a view on `bytes`, no copy), or `null` where the runtime has none (exported for its
 * test).
 */
export const encodeBase64Node: ((bytes: Uint8Array) => string) | null = typeof nodeBuffer?.Buffer?.from === "function"
  ? (bytes) => nodeBuffer.Buffer!.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")
  : null;

/**
 * Decodes with `node:buffer` when `text` is canonical base64 (what {@linkcode toBase64} writes: encoding the bytes
 * again gives `text` back), else returns `null`: `node:buffer` skips characters that are not base64 where `atob`
 * throws, so any other text goes to `atob` (exported for its test).
 */
export const decodeBase64Node: ((text: string) => Uint8Array<ArrayBuffer> | null) | null =
  typeof nodeBuffer?.Buffer?.from === "function"
    ? (text) => {
      const buffer = nodeBuffer.Buffer!.from(text, "base64");
      // A copy: a small Buffer is a view on a pool shared with other Buffers.
      return buffer.toString("base64") === text ? new Uint8Array(buffer) : null;
    }
    : null;

/** Encodes with the lookup table, whatever the runtime has (exported for its test). */
export function encodeBase64Portable(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  if (i < bytes.length) {
    const two = i + 1 < bytes.length;
    const n = (bytes[i]! << 16) | (two ? bytes[i + 1]! << 8 : 0);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + (two ? ALPHABET[(n >> 6) & 63]! : "=") + "=";
  }
  return out;
}

/** `bytes` as base64 text. */
export function toBase64(bytes: Uint8Array): string {
  if (nativeEncode) return nativeEncode.call(bytes);
  return encodeBase64Node ? encodeBase64Node(bytes) : encodeBase64Portable(bytes);
}

/** The bytes of base64 text; throws on text that is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (nativeDecode) return nativeDecode(text);
  return decodeBase64Node?.(text) ?? decodeBase64Portable(text);
}

/** Decodes with `atob`, whatever the runtime has; throws on text that is not base64 (exported for its test). */
export function decodeBase64Portable(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
