/**
 * Shared listing logic: option checking, filter matching, ordering and paging.
 * Backends that cannot push a query down use these directly; the others
 * translate a {@linkcode ListQuery} into their own index ranges.
 *
 * @module
 */
import { type CursorPosition, decodeCursor, encodeCursor } from "./cursor.ts";
import { ValidationError } from "./errors.ts";
import { checkInteger, checkOptionalId, checkOptions } from "./parse.ts";
import { MODE_FIELDS } from "./modes.ts";
import type { ListOptions, Session, SessionMode, SessionPage, SortField } from "./types.ts";

/** Largest page `listSessions` serves. */
export const MAX_PAGE_SIZE = 1000;

/** The keys `listSessions` takes. */
const LIST_OPTION_KEYS = [
  "userId",
  "entityId",
  "sessionName",
  "createdAfter",
  "createdBefore",
  "updatedAfter",
  "updatedBefore",
  "sortBy",
  "order",
  "limit",
  "cursor",
] as const;

/** A checked listing request, ready for a backend. */
export interface ListQuery {
  /** Only this user's sessions. */
  userId?: string;
  /** Only this entity's sessions. */
  entityId?: string;
  /** Only sessions with exactly this name. */
  sessionName?: string;
  /** Exclusive lower bound of `createdAt`. */
  createdAfter?: number;
  /** Exclusive upper bound of `createdAt`. */
  createdBefore?: number;
  /** Exclusive lower bound of `updatedAt`. */
  updatedAfter?: number;
  /** Exclusive upper bound of `updatedAt`. */
  updatedBefore?: number;
  /** Sort key. */
  sortBy: SortField;
  /** Sort direction. */
  order: "asc" | "desc";
  /** Page size. */
  limit: number;
  /** Start strictly after this position, or at the beginning when `null`. */
  after: CursorPosition | null;
  /** Sessions with `updatedAt <= liveAfter` are expired and left out; `null` without TTL. */
  liveAfter: number | null;
}

function checkTime(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ValidationError([{ path: [name], message: "expected a finite number of epoch milliseconds" }]);
  }
  return value;
}

/** Checks `listSessions` options and fills defaults; throws `ValidationError` on bad ones. */
export function toListQuery(options: ListOptions | undefined, liveAfter: number | null): ListQuery {
  const o = checkOptions(options, LIST_OPTION_KEYS, "listSessions") ?? {};
  const sortBy = o.sortBy ?? "createdAt";
  if (sortBy !== "createdAt" && sortBy !== "updatedAt") {
    throw new ValidationError([{ path: ["sortBy"], message: 'expected "createdAt" or "updatedAt"' }]);
  }
  const order = o.order ?? "desc";
  if (order !== "asc" && order !== "desc") {
    throw new ValidationError([{ path: ["order"], message: 'expected "asc" or "desc"' }]);
  }
  if (o.sessionName !== undefined && typeof o.sessionName !== "string") {
    throw new ValidationError([{ path: ["sessionName"], message: "expected a string" }]);
  }
  const query: ListQuery = {
    sortBy,
    order,
    limit: checkInteger(o.limit, "limit", 1, MAX_PAGE_SIZE) ?? 20,
    after: o.cursor == null ? null : decodeCursor(String(o.cursor), sortBy, order),
    liveAfter,
  };
  const userId = checkOptionalId(o.userId, "userId");
  if (userId !== undefined) query.userId = userId;
  const entityId = checkOptionalId(o.entityId, "entityId");
  if (entityId !== undefined) query.entityId = entityId;
  if (o.sessionName !== undefined) query.sessionName = o.sessionName;
  for (const name of ["createdAfter", "createdBefore", "updatedAfter", "updatedBefore"] as const) {
    const value = checkTime(o[name], name);
    if (value !== undefined) query[name] = value;
  }
  return query;
}

/**
 * Orders strings by Unicode code point (the order of their UTF-8 bytes, as
 * SQLite and Redis compare them), unlike `<` on JS strings, which compares
 * UTF-16 code units.
 */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (D800–DFFF) encode code points above FFFF: move them past E000–FFFF.
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Compares two sessions in listing order (sort key, then `sessionId`), ascending or descending. */
export function compareSessions(a: Session, b: Session, sortBy: SortField, order: "asc" | "desc"): number {
  const diff = a[sortBy] - b[sortBy] || compareIds(a.sessionId, b.sessionId);
  return order === "asc" ? diff : -diff;
}

/** Whether a session is past its TTL (`updatedAt <= liveAfter`). */
export function isExpired(session: Session, liveAfter: number | null): boolean {
  return liveAfter !== null && session.updatedAt <= liveAfter;
}

/** Whether `session` passes the query's filters, TTL and cursor position. */
export function matchesQuery(session: Session, query: ListQuery, mode: SessionMode): boolean {
  if (isExpired(session, query.liveAfter)) return false;
  if (query.userId !== undefined && session.userId !== query.userId) return false;
  if (query.entityId !== undefined) {
    const entity = (session as unknown as Record<string, unknown>)[MODE_FIELDS[mode].entity];
    if (entity !== query.entityId) return false;
  }
  if (query.sessionName !== undefined && session.sessionName !== query.sessionName) return false;
  if (query.createdAfter !== undefined && !(session.createdAt > query.createdAfter)) return false;
  if (query.createdBefore !== undefined && !(session.createdAt < query.createdBefore)) return false;
  if (query.updatedAfter !== undefined && !(session.updatedAt > query.updatedAfter)) return false;
  if (query.updatedBefore !== undefined && !(session.updatedAt < query.updatedBefore)) return false;
  if (query.after !== null) {
    const diff = session[query.sortBy] - query.after.value || compareIds(session.sessionId, query.after.sessionId);
    if (query.order === "asc" ? diff <= 0 : diff >= 0) return false;
  }
  return true;
}

/**
 * Turns the first `limit + 1` matching sessions, in order, into a page: the
 * extra one only tells that more exist.
 */
export function toPage<S extends Session>(rows: S[], query: ListQuery): SessionPage<S> {
  if (rows.length <= query.limit) return { sessions: rows, nextCursor: null };
  const sessions = rows.slice(0, query.limit);
  const last = sessions[sessions.length - 1]!;
  return {
    sessions,
    nextCursor: encodeCursor(query.sortBy, query.order, { value: last[query.sortBy], sessionId: last.sessionId }),
  };
}
