// The list group of the conformance suite.
import * as assert from "../_assert.ts";
import type { Session, SessionOf } from "../../session/types.ts";
import { group, ids } from "./_case.ts";
import { pageAll, seed, sorted } from "./_seed.ts";

const { cases, test } = group("list");
/** The cases of the list group. */
export { cases };

test("both sorts and orders, every filter", async ({ make }) => {
  const { storage, all } = await seed(make, 60);
  const mid = sorted(all, "createdAt", "asc")[30]!;
  const midU = sorted(all, "updatedAt", "asc")[30]!;
  const filters: [Record<string, unknown>, (s: Session) => boolean][] = [
    [{}, () => true],
    [{ userId: "u1" }, (s) => s.userId === "u1"],
    [{ entityId: "a2" }, (s) => (s as SessionOf<"agent">).agentId === "a2"],
    [{ userId: "u2", entityId: "a2" }, (s) => s.userId === "u2" && (s as SessionOf<"agent">).agentId === "a2"],
    [{ sessionName: "named" }, (s) => s.sessionName === "named"],
    [{ createdAfter: mid.createdAt }, (s) => s.createdAt > mid.createdAt],
    [{ createdBefore: mid.createdAt }, (s) => s.createdAt < mid.createdAt],
    [{ updatedAfter: midU.updatedAt }, (s) => s.updatedAt > midU.updatedAt],
    [{ updatedBefore: midU.updatedAt, userId: "u0" }, (s) => s.updatedAt < midU.updatedAt && s.userId === "u0"],
  ];
  for (const [filter, keep] of filters) {
    for (const sortBy of ["createdAt", "updatedAt"] as const) {
      for (const order of ["asc", "desc"] as const) {
        const expected = ids(sorted(all.filter(keep), sortBy, order));
        const got = ids(await pageAll(storage, { ...filter, sortBy, order, limit: 7 }));
        assert.deepEqual(got, expected, `${JSON.stringify(filter)} ${sortBy} ${order}`);
      }
    }
  }
  const defaults = await storage.listSessions();
  assert.deepEqual(ids(defaults.sessions), ids(sorted(all, "createdAt", "desc").slice(0, 20)));
});

test("getRecentSessions: newest createdAt first, default limit 2, filters", async ({ make }) => {
  const { storage, all } = await seed(make, 30);
  const newest = ids(sorted(all, "createdAt", "desc"));
  assert.deepEqual(ids(await storage.getRecentSessions()), newest.slice(0, 2));
  assert.deepEqual(ids(await storage.getRecentSessions({ limit: 5 })), newest.slice(0, 5));
  const u1 = ids(sorted(all.filter((s) => s.userId === "u1"), "createdAt", "desc"));
  assert.deepEqual(ids(await storage.getRecentSessions({ userId: "u1", limit: 3 })), u1.slice(0, 3));
});

test("getAllSessionIds and getAllSessions with filters", async ({ make }) => {
  const { storage, all } = await seed(make, 40);
  const newest = sorted(all, "createdAt", "desc");
  assert.deepEqual(await storage.getAllSessionIds(), ids(newest));
  assert.deepEqual(
    ids(await storage.getAllSessions({ entityId: "a3" })),
    ids(newest.filter((s) => (s as SessionOf<"agent">).agentId === "a3")),
  );
  assert.deepEqual(await storage.getAllSessionIds({ userId: "nobody" }), []);
});
