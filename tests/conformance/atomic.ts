// The atomic group of the conformance suite.
import * as assert from "../_assert.ts";
import { ConflictError, UserMismatchError, ValidationError } from "../../session/errors.ts";
import { fullInput, group, rejects, TestClock } from "./_case.ts";

const { cases, test } = group("atomic");
/** The cases of the atomic group. */
export { cases };

test("expectedVersion 0 inserts, right version updates, wrong version conflicts", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const first = await s.upsert({ sessionId: "s", memory: { v: 1 } }, { expectedVersion: 0 });
  assert.equal(first.version, 1);
  const conflict0 = await rejects(s.upsert({ sessionId: "s" }, { expectedVersion: 0 }), ConflictError);
  assert.deepEqual([(conflict0 as ConflictError).expected, (conflict0 as ConflictError).actual], [0, 1]);
  const second = await s.upsert({ sessionId: "s", memory: { v: 2 } }, { expectedVersion: 1 });
  assert.equal(second.version, 2);
  const conflict = await rejects(s.upsert({ sessionId: "s", memory: { v: 9 } }, { expectedVersion: 1 }), ConflictError);
  assert.deepEqual(
    [(conflict as ConflictError).sessionId, (conflict as ConflictError).expected, (conflict as ConflictError).actual],
    ["s", 1, 2],
  );
  assert.deepEqual(await s.read("s"), second);
  const missing = await rejects(s.upsert({ sessionId: "new" }, { expectedVersion: 3 }), ConflictError);
  assert.equal((missing as ConflictError).actual, 0);
  assert.equal(await s.read("new"), null);
});

test("20 concurrent upserts with the same expectedVersion: exactly one wins", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const base = await s.upsert({ sessionId: "hot", memory: { n: 0 } });
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => s.upsert({ sessionId: "hot", memory: { n: i + 1 } }, { expectedVersion: 1 })),
  );
  const won = results.filter((r) => r.status === "fulfilled");
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  assert.equal(won.length, 1);
  for (const r of lost) assert.ok(r.reason instanceof ConflictError, String(r.reason));
  const final = await s.read("hot");
  assert.equal(final?.version, base.version + 1);
  assert.deepEqual(final, (won[0] as PromiseFulfilledResult<unknown>).value);
});

test("20 concurrent upserts without expectedVersion: every one counted", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await Promise.all(Array.from({ length: 20 }, (_, i) => s.upsert({ sessionId: "c", memory: { i } })));
  assert.equal((await s.read("c"))?.version, 20);
});

test("upsertMany equals upserting one by one", async ({ make }) => {
  const clock = new TestClock();
  const a = await make({ mode: "workflow", clock: clock.fn });
  const b = await make({ mode: "workflow", clock: clock.fn });
  const inputs = [fullInput("workflow", "x", 1), fullInput("workflow", "y", 2), fullInput("workflow", "x", 4)];
  const many = await a.upsertMany(inputs);
  const one: unknown[] = [];
  for (const input of inputs) one.push(await b.upsert(input));
  assert.deepEqual(many, one);
  assert.deepEqual(await a.getAllSessions(), await b.getAllSessions());
  assert.deepEqual(await a.upsertMany([]), []);
});

test("upsertMany is all or nothing", async ({ make }) => {
  const s = await make({ mode: "agent" });
  if (!s.capabilities.atomicBatch) return;
  await s.upsert({ sessionId: "owned", userId: "alice", memory: { keep: true } });
  await rejects(
    s.upsertMany([{ sessionId: "new1" }, { sessionId: "owned", userId: "mallory" }, { sessionId: "new2" }]),
    UserMismatchError,
  );
  assert.equal(await s.read("new1"), null);
  assert.equal(await s.read("new2"), null);
  assert.deepEqual((await s.read("owned"))?.memory, { keep: true });
  await rejects(s.upsertMany([{ sessionId: "new3" }, { sessionId: "bad", memory: { n: NaN } }]), ValidationError);
  assert.equal(await s.read("new3"), null);
});
