// The runs group of the conformance suite.
import * as assert from "../_assert.ts";
import { ConflictError, SessionNotFoundError, UserMismatchError, ValidationError } from "../../session/errors.ts";
import type { RunPage, RunRecord } from "../../session/types.ts";
import { type AnyStorage, group, rejects, TestClock } from "./_case.ts";

const { cases, test } = group("runs");
/** The cases of the runs group. */
export { cases };

async function allRuns(s: AnyStorage, id: string, options: Record<string, unknown> = {}): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    const page: RunPage = await s.getRuns(id, { ...options, cursor });
    out.push(...page.runs);
    cursor = page.nextCursor;
    if (cursor === null) return out;
  }
  throw new Error("paging did not end");
}

test("appendRuns appends in order, bumps the version once per call, pages by seq", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn });
  await s.upsert({ sessionId: "chat", memory: { summary: "" } });
  clock.advance(5);
  assert.deepEqual(await s.appendRuns("chat", [{ q: "hi" }, { a: "hello" }]), { version: 2, runCount: 2 });
  clock.advance(5);
  const third = await s.appendRuns("chat", Array.from({ length: 8 }, (_, i) => ({ turn: i + 3, text: "é😀\u0000" })));
  assert.deepEqual(third, { version: 3, runCount: 10 });
  const session = await s.read("chat");
  assert.deepEqual([session?.version, session?.updatedAt], [3, clock.now]);
  assert.equal("runs" in session!, false, "read does not load runs");
  const asc = await allRuns(s, "chat", { limit: 3 });
  assert.deepEqual(asc.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(asc[0], { seq: 1, key: null, createdAt: clock.now - 5, run: { q: "hi" } });
  assert.deepEqual(asc[9]?.run, { turn: 10, text: "é😀\u0000" });
  const desc = await allRuns(s, "chat", { limit: 4, order: "desc" });
  assert.deepEqual(desc.map((r) => r.seq), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  const first = await s.getRuns("chat", { limit: 10 });
  assert.equal(first.nextCursor, null);
  await rejects(s.getRuns("chat", { cursor: first.nextCursor ?? "nope" }), ValidationError);
  const kept = await s.upsert({ sessionId: "chat", memory: { summary: "two" } });
  assert.equal(kept.version, 4);
  assert.equal((await allRuns(s, "chat")).length, 10, "upsert keeps the runs");
});

test("ownership, missing sessions and validation", async ({ make }) => {
  const s = await make({ mode: "team" });
  await rejects(s.appendRuns("none", [{ a: 1 }]), SessionNotFoundError);
  assert.deepEqual(await s.getRuns("none"), { runs: [], nextCursor: null });
  await s.upsert({ sessionId: "owned", userId: "alice" });
  await rejects(s.appendRuns("owned", [{ a: 1 }], { userId: "bob" }), UserMismatchError);
  await rejects(s.appendRuns("owned", [{ a: 1 }]), UserMismatchError);
  assert.deepEqual(await s.appendRuns("owned", [{ a: 1 }], { userId: "alice" }), { version: 2, runCount: 1 });
  assert.deepEqual(await s.getRuns("owned", { userId: "bob" }), { runs: [], nextCursor: null });
  assert.equal((await s.getRuns("owned", { userId: "alice" })).runs.length, 1);
  for (const bad of [[], [1], [[1]], [{ n: NaN }], [{ ok: 1 }, { f: () => 1 }], "x"]) {
    await rejects(s.appendRuns("owned", bad as never, { userId: "alice" }), ValidationError);
  }
  assert.equal((await s.read("owned"))?.version, 2);
  assert.equal((await s.getRuns("owned")).runs.length, 1);
});

test("two appenders with the same expectedVersion: one wins, nothing lost or duplicated", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "c" });
  const results = await Promise.allSettled([
    s.appendRuns("c", [{ by: "x", n: 1 }, { by: "x", n: 2 }], { expectedVersion: 1 }),
    s.appendRuns("c", [{ by: "y", n: 1 }], { expectedVersion: 1 }),
  ]);
  const won = results.filter((r) => r.status === "fulfilled");
  assert.equal(won.length, 1);
  const lost = results.find((r): r is PromiseRejectedResult => r.status === "rejected")!;
  assert.ok(lost.reason instanceof ConflictError, String(lost.reason));
  const runs = await allRuns(s, "c");
  const winner = (won[0] as PromiseFulfilledResult<{ runCount: number }>).value;
  assert.equal(runs.length, winner.runCount);
  assert.equal(new Set(runs.map((r) => (r.run as { by: string }).by)).size, 1, "only the winner's runs");
  assert.deepEqual(runs.map((r) => r.seq), runs.map((_, i) => i + 1));
});

test("20 concurrent appenders: 20 runs with distinct consecutive seq", async ({ make }) => {
  const s = await make({ mode: "workflow" });
  await s.upsert({ sessionId: "w" });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.appendRuns("w", [{ i }])));
  assert.deepEqual(results.map((r) => r.runCount).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
  const runs = await allRuns(s, "w", { limit: 7 });
  assert.deepEqual(runs.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(
    runs.map((r) => (r.run as { i: number }).i).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.equal((await s.read("w"))?.version, 21);
});

test("delete, TTL, purge and drop take the runs with the session", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn, ttlMs: 1000 });
  await s.upsert({ sessionId: "d" });
  await s.appendRuns("d", [{ n: 1 }, { n: 2 }]);
  assert.equal(await s.deleteSession("d"), true);
  await s.upsert({ sessionId: "d" });
  assert.deepEqual((await s.getRuns("d")).runs, [], "a re-created session starts with no runs");
  await s.appendRuns("d", [{ n: 3 }]);
  clock.advance(1000);
  assert.deepEqual((await s.getRuns("d")).runs, []);
  await rejects(s.appendRuns("d", [{ n: 4 }]), SessionNotFoundError);
  await s.upsert({ sessionId: "d" });
  assert.deepEqual((await s.getRuns("d")).runs, [], "expired runs do not come back");
  await s.appendRuns("d", [{ n: 5 }]);
  await s.upsert({ sessionId: "e" });
  await s.appendRuns("e", [{ n: 6 }]);
  clock.advance(1000);
  assert.equal(await s.purgeExpired(), 2);
  await s.upsert({ sessionId: "e" });
  assert.deepEqual((await s.getRuns("e")).runs, []);
  await s.appendRuns("e", [{ n: 7 }]);
  await s.drop();
  await s.upsert({ sessionId: "e" });
  assert.deepEqual((await s.getRuns("e")).runs, [], "drop removes runs");
});
