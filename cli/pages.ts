/** Walking a storage's sessions a page at a time, for the CLI commands that read them all. */
import type { Session, SessionMode, SortField, StorageOf } from "../mod.ts";

/** The pages of `storage`'s sessions sorted by `sortBy`, oldest first, `limit` per page; stop early by breaking. */
export async function* sessionPages(
  storage: StorageOf<SessionMode>,
  sortBy: SortField,
  limit: number,
): AsyncGenerator<Session[]> {
  let cursor: string | null = null;
  do {
    const page: { sessions: Session[]; nextCursor: string | null } = await storage.listSessions({
      sortBy,
      order: "asc",
      limit,
      cursor,
    });
    yield page.sessions;
    cursor = page.nextCursor;
  } while (cursor !== null);
}
