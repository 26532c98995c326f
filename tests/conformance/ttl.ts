// The ttl group of the conformance suite.
import * as assert from "../_assert.ts";
import { group, ids, TestClock } from "./_case.ts";

const { cases, test } = group("ttl");
/** The cases of the ttl group. */
export { cases };

test("expired sessions read as absent, are not listed, and are purged", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn, ttlMs: 60_000 });
  await s.upsert({ sessionId: "old", userId: "u" });
  clock.advance(30_000);
  await s.upsert({ sessionId: "young", userId: "u" });
  clock.advance(29_999);
  assert.notEqual(await s.read("old"), null);
  clock.advance(1);
  assert.equal(await s.read("old"), null);
  assert.deepEqual(await s.getAllSessionIds(), ["young"]);
  assert.deepEqual(ids((await s.listSessions({ userId: "u", sortBy: "updatedAt" })).sessions), ["young"]);
  assert.equal(await s.renameSession("old", "x"), null);
  const reborn = await s.upsert({ sessionId: "old", userId: "other" });
  assert.deepEqual([reborn.version, reborn.createdAt, reborn.userId], [1, clock.now, "other"]);
  clock.advance(60_000);
  assert.equal(await s.purgeExpired(), 2);
  assert.equal(await s.purgeExpired(), 0);
  assert.deepEqual(await s.getAllSessionIds(), []);
});

// Found by the property tests: the model used to drop an expired session on delete, so purge counts differed.
test("deleting an expired session reports false; purgeExpired still removes it", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn, ttlMs: 1000 });
  await s.upsert({ sessionId: "x" });
  clock.advance(1000);
  assert.equal(await s.deleteSession("x"), false);
  assert.equal(await s.purgeExpired(), 1);
  assert.equal(await s.purgeExpired(), 0);
});

test("a write keeps a session alive; no TTL means purgeExpired is 0", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn, ttlMs: 1000 });
  await s.upsert({ sessionId: "kept" });
  for (let i = 0; i < 3; i++) {
    clock.advance(900);
    await s.upsert({ sessionId: "kept" }, { expectedVersion: i + 1 });
  }
  assert.equal((await s.read("kept"))?.version, 4);
  const forever = await make({ mode: "agent", clock: clock.fn });
  await forever.upsert({ sessionId: "x" });
  clock.advance(10 ** 10);
  assert.equal(await forever.purgeExpired(), 0);
  assert.notEqual(await forever.read("x"), null);
});
