// The cursor group of the conformance suite.
import * as assert from "../_assert.ts";
import { ValidationError } from "../../session/errors.ts";
import type { Session } from "../../session/types.ts";
import { group, ids, rejects } from "./_case.ts";
import { pageAll, seed, sorted } from "./_seed.ts";

const { cases, test } = group("cursor");
/** The cases of the cursor group. */
export { cases };

test("pages of 1, 7 and 100 over 250 sessions visit each exactly once", async ({ make }) => {
  const { storage, all } = await seed(make, 250);
  for (
    const [limit, sortBy, order] of [[1, "createdAt", "desc"], [7, "updatedAt", "asc"], [
      100,
      "createdAt",
      "asc",
    ]] as const
  ) {
    const got = ids(await pageAll(storage, { limit, sortBy, order }));
    assert.deepEqual(got, ids(sorted(all, sortBy, order)), `limit ${limit}`);
  }
});

test("paging neither skips nor repeats while sessions are inserted", async ({ make }) => {
  const { storage, all, clock } = await seed(make, 100);
  const seen: string[] = [];
  let cursor: string | null = null;
  let inserted = 0;
  do {
    const page: { sessions: Session[]; nextCursor: string | null } = await storage.listSessions({
      limit: 9,
      sortBy: "createdAt",
      order: "asc",
      cursor,
    });
    seen.push(...ids(page.sessions));
    cursor = page.nextCursor;
    clock.advance(1);
    await storage.upsert({ sessionId: `late-${inserted++}` });
  } while (cursor !== null);
  const original = new Set(ids(all));
  const fromOriginal = seen.filter((id) => original.has(id));
  assert.deepEqual(fromOriginal, ids(sorted(all, "createdAt", "asc")));
  assert.equal(new Set(seen).size, seen.length, "no repeats");
});

test("a bad or mismatched cursor is a ValidationError", async ({ make }) => {
  const { storage } = await seed(make, 5);
  await rejects(storage.listSessions({ cursor: "garbage!" }), ValidationError);
  const page = await storage.listSessions({ limit: 2, sortBy: "createdAt" });
  assert.ok(page.nextCursor);
  await rejects(storage.listSessions({ cursor: page.nextCursor, sortBy: "updatedAt" }), ValidationError);
  for (const limit of [0, -1, 1.5, 1001]) await rejects(storage.listSessions({ limit }), ValidationError);
});
