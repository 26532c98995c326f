// The import group of the conformance suite.
import * as assert from "../_assert.ts";
import { ConflictError, ValidationError } from "../../session/errors.ts";
import { fullInput, group, rejects, TestClock } from "./_case.ts";

const { cases, test } = group("import");
/** The cases of the import group. */
export { cases };

test("importSessions restores sessions and runs exactly; appends continue the log", async ({ make }) => {
  const clock = new TestClock();
  const source = await make({ mode: "team", clock: clock.fn });
  for (let i = 0; i < 5; i++) {
    await source.upsert(fullInput("team", `t${i}`, i));
    clock.advance(7);
    if (i % 2 === 0) await source.appendRuns(`t${i}`, [{ i, n: 1 }, { i, n: 2 }], { userId: `user-${i % 3}` });
    clock.advance(3);
  }
  const entries = [];
  for (const session of await source.getAllSessions()) {
    entries.push({ session, runs: (await source.getRuns(session.sessionId, { limit: 1000 })).runs });
  }
  clock.advance(1000);
  const target = await make({ mode: "team", clock: clock.fn });
  assert.deepEqual(await target.importSessions(entries), { imported: 5, skipped: 0 });
  assert.deepEqual(await target.getAllSessions(), await source.getAllSessions());
  for (const { session, runs } of entries) {
    assert.deepEqual((await target.getRuns(session.sessionId, { limit: 1000 })).runs, runs);
  }
  const next = await target.appendRuns("t0", [{ n: 3 }], { userId: "user-0" });
  assert.deepEqual(next, {
    version: entries.find((e) => e.session.sessionId === "t0")!.session.version + 1,
    runCount: 3,
  });
});

test("onConflict: fail imports nothing, skip keeps, overwrite replaces with runs", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "a", memory: { mine: true } });
  await s.appendRuns("a", [{ old: 1 }, { old: 2 }]);
  const at = 1_600_000_000_000;
  const entry = (id: string, memory: Record<string, unknown>) => ({
    session: { ...fullInput("agent", id, 1), memory, createdAt: at, updatedAt: at + 1, version: 9 },
    runs: [{ seq: 1, createdAt: at, run: { imported: id } }],
  });
  const error = await rejects(s.importSessions([entry("b", {}), entry("a", { theirs: true })]), ConflictError);
  assert.equal((error as ConflictError).sessionId, "a");
  if (s.capabilities.atomicBatch) assert.equal(await s.read("b"), null);
  await s.deleteSession("b");
  assert.deepEqual(await s.importSessions([entry("a", { theirs: true }), entry("b", {})], { onConflict: "skip" }), {
    imported: 1,
    skipped: 1,
  });
  assert.deepEqual((await s.read("a"))?.memory, { mine: true });
  assert.equal((await s.getRuns("a")).runs.length, 2);
  assert.deepEqual([(await s.read("b"))?.version, (await s.read("b"))?.createdAt], [9, at]);
  assert.deepEqual(await s.importSessions([entry("a", { theirs: true })], { onConflict: "overwrite" }), {
    imported: 1,
    skipped: 0,
  });
  assert.deepEqual((await s.read("a"))?.memory, { theirs: true });
  assert.deepEqual((await s.getRuns("a")).runs, [{ seq: 1, key: null, createdAt: at, run: { imported: "a" } }]);
});

test("invalid entries are refused with ValidationError and nothing is written", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const good = { session: { sessionId: "g", createdAt: 1, updatedAt: 2, version: 1 }, runs: [] };
  const bad: unknown[] = [
    { session: { sessionId: "x", createdAt: -1, updatedAt: 2, version: 1 }, runs: [] },
    { session: { sessionId: "x", createdAt: 1, updatedAt: 2, version: 0 }, runs: [] },
    { session: { sessionId: "x", createdAt: 1, updatedAt: 2, version: 1 }, runs: [{ seq: 2, createdAt: 1, run: {} }] },
    { session: { sessionId: "x", createdAt: 1, updatedAt: 2, version: 1 }, runs: [{ seq: 1, createdAt: 1, run: [] }] },
    { session: { sessionId: "", createdAt: 1, updatedAt: 2, version: 1 }, runs: [] },
    good,
    null,
  ];
  for (const entry of bad) await rejects(s.importSessions([good, entry] as never), ValidationError);
  await rejects(s.importSessions([good], { onConflict: "merge" as never }), ValidationError);
  assert.deepEqual(await s.getAllSessionIds(), []);
});
