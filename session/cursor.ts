/**
 * Opaque keyset cursors: the sort key and `sessionId` of the last session of a page.
 *
 * @module
 */
import { ValidationError } from "./errors.ts";
import type { SortField } from "./types.ts";

/** Where the previous page ended. */
export interface CursorPosition {
  /** `createdAt` or `updatedAt` of the last session, by the listing's sort. */
  value: number;
  /** `sessionId` of the last session. */
  sessionId: string;
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): string {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/**
 * Encodes the position after which the next page starts, for one sort.
 *
 * @example Round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCursor, encodeCursor } from "./cursor.ts";
 * const cursor = encodeCursor("createdAt", "desc", { value: 5, sessionId: "a/b" });
 * assert.deepEqual(decodeCursor(cursor, "createdAt", "desc"), { value: 5, sessionId: "a/b" });
 * ```
 */
export function encodeCursor(sortBy: SortField, order: "asc" | "desc", position: CursorPosition): string {
  return toBase64Url(JSON.stringify([1, sortBy, order, position.value, position.sessionId]));
}

/** Decodes a cursor made by {@linkcode encodeCursor} for the same sort; throws `ValidationError` otherwise. */
export function decodeCursor(cursor: string, sortBy: SortField, order: "asc" | "desc"): CursorPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromBase64Url(cursor));
  } catch {
    throw new ValidationError([{ path: ["cursor"], message: "not a cursor returned by listSessions" }]);
  }
  if (
    !Array.isArray(parsed) || parsed.length !== 5 || parsed[0] !== 1 ||
    typeof parsed[3] !== "number" || typeof parsed[4] !== "string"
  ) {
    throw new ValidationError([{ path: ["cursor"], message: "not a cursor returned by listSessions" }]);
  }
  if (parsed[1] !== sortBy || parsed[2] !== order) {
    throw new ValidationError([{
      path: ["cursor"],
      message: `made for sortBy "${parsed[1]}" order "${parsed[2]}", used with sortBy "${sortBy}" order "${order}"`,
    }]);
  }
  return { value: parsed[3], sessionId: parsed[4] };
}

/** Encodes the `seq` after which the next page of runs starts. */
export function encodeRunCursor(order: "asc" | "desc", seq: number): string {
  return toBase64Url(JSON.stringify([2, "runs", order, seq]));
}

/** Decodes a cursor made by {@linkcode encodeRunCursor} for the same order; throws `ValidationError` otherwise. */
export function decodeRunCursor(cursor: string, order: "asc" | "desc"): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromBase64Url(cursor));
  } catch {
    parsed = null;
  }
  if (
    !Array.isArray(parsed) || parsed[0] !== 2 || parsed[1] !== "runs" || parsed[2] !== order ||
    !Number.isInteger(parsed[3])
  ) {
    throw new ValidationError([{ path: ["cursor"], message: `not a getRuns cursor for order "${order}"` }]);
  }
  return parsed[3];
}
