// The runlog group of the conformance suite: keyed, editable run logs, one-write turns, patch and update.
import * as assert from "../_assert.ts";
import {
  ConflictError,
  RunConflictError,
  SessionNotFoundError,
  UserMismatchError,
  ValidationError,
} from "../../session/errors.ts";
import { type AnyStorage, group, rejects } from "./_case.ts";

const { cases, test } = group("runlog");
/** The cases of the runlog group. */
export { cases };

async function texts(s: AnyStorage, id: string): Promise<string[]> {
  const page = await s.getRuns(id, { limit: 1000 });
  return page.runs.map((r) => `${r.seq}:${r.key ?? "-"}:${r.run.text}`);
}

test("keyed appends: a replay stores nothing, another run under a stored key is a RunConflictError", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "c", userId: "ada" });
  const first = await s.appendRuns("c", [{ text: "hi" }, { text: "hello" }], { userId: "ada", keys: ["u1", "a1"] });
  assert.deepEqual(first, { version: 2, runCount: 2 });
  const replay = await s.appendRuns("c", [{ text: "hi" }, { text: "hello" }], {
    userId: "ada",
    keys: ["u1", "a1"],
  });
  assert.deepEqual(replay, { version: 2, runCount: 2 });
  const error = await rejects(
    s.appendRuns("c", [{ text: "other" }], { userId: "ada", keys: ["a1"] }),
    RunConflictError,
  );
  assert.equal((error as RunConflictError).key, "a1");
  assert.ok(error instanceof ConflictError);
  const mixed = await s.appendRuns("c", [{ text: "hello" }, { text: "next" }], {
    userId: "ada",
    keys: ["a1", "u2"],
  });
  assert.deepEqual(mixed, { version: 3, runCount: 3 });
  assert.deepEqual(await texts(s, "c"), ["1:u1:hi", "2:a1:hello", "3:u2:next"]);
  assert.deepEqual((await s.getRun("c", "a1"))?.run, { text: "hello" });
  assert.equal((await s.getRun("c", "a1"))?.seq, 2);
  assert.equal(await s.getRun("c", "nope"), null);
  assert.equal(await s.getRun("c", "a1", { userId: "bob" }), null);
  await rejects(
    s.appendRuns("c", [{ text: "x" }, { text: "y" }], { userId: "ada", keys: ["k", "k"] }),
    ValidationError,
  );
  await rejects(s.appendRuns("c", [{ text: "x" }], { userId: "ada", keys: ["k", "j"] }), ValidationError);
});

test("concurrent appends under one key store the run once", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "c" });
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, () => s.appendRuns("c", [{ text: "once" }], { keys: ["m1"] })),
  );
  assert.ok(results.every((r) => r.status === "fulfilled"), "every replay succeeds");
  assert.deepEqual(await texts(s, "c"), ["1:m1:once"]);
});

test("a turn in one write: append with a patch, and create the session when missing", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await rejects(s.appendRuns("t", [{ text: "hi" }], { userId: "ada" }), SessionNotFoundError);
  const created = await s.appendRuns("t", [{ text: "hi" }], {
    userId: "ada",
    create: true,
    keys: ["u1"],
    patch: { memory: { turns: 1 }, sessionName: "Greeting", agentId: "helper" },
  });
  assert.deepEqual(created, { version: 1, runCount: 1 });
  let session = await s.read("t");
  assert.equal(session?.userId, "ada");
  assert.deepEqual(session?.memory, { turns: 1 });
  assert.equal(session?.sessionName, "Greeting");
  assert.equal(session?.agentId, "helper");
  const next = await s.appendRuns("t", [{ text: "more" }], {
    userId: "ada",
    create: true,
    patch: { memory: { turns: 2 } },
  });
  assert.deepEqual(next, { version: 2, runCount: 2 });
  session = await s.read("t");
  assert.deepEqual(session?.memory, { turns: 2 });
  assert.equal(session?.sessionName, "Greeting", "fields not in the patch are kept");
  await rejects(s.appendRuns("t", [{ text: "x" }], { userId: "bob", patch: { memory: {} } }), UserMismatchError);
  await rejects(
    s.appendRuns("t", [{ text: "x" }], { userId: "ada", patch: { userId: "bob" } as never }),
    ValidationError,
  );
  await rejects(
    s.appendRuns("t", [{ text: "x" }], { userId: "ada", patch: { memory: 5 } as never }),
    ValidationError,
  );
  await rejects(s.appendRuns("t", [{ text: "x" }], { userId: "ada", expectedVersion: 1 }), ConflictError);
  assert.deepEqual((await s.read("t"))?.version, 2, "refused turns change nothing");
  assert.deepEqual(await texts(s, "t"), ["1:u1:hi", "2:-:more"]);
});

test("getRuns by seq range, both orders, cursor within bounds, and the last N in order", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "r" });
  await s.appendRuns("r", Array.from({ length: 10 }, (_, i) => ({ text: `t${i + 1}` })));
  const seqs = (p: { runs: { seq: number }[] }) => p.runs.map((r) => r.seq);
  assert.deepEqual(seqs(await s.getRuns("r", { after: 3, before: 7 })), [4, 5, 6]);
  assert.deepEqual(seqs(await s.getRuns("r", { after: 3, before: 7, order: "desc" })), [6, 5, 4]);
  const first = await s.getRuns("r", { after: 2, before: 9, limit: 3 });
  assert.deepEqual(seqs(first), [3, 4, 5]);
  const second = await s.getRuns("r", { after: 2, before: 9, limit: 3, cursor: first.nextCursor });
  assert.deepEqual(seqs(second), [6, 7, 8]);
  assert.equal(second.nextCursor, null);
  assert.deepEqual(seqs(await s.getRuns("r", { last: 3 })), [8, 9, 10]);
  assert.deepEqual(seqs(await s.getRuns("r", { last: 3, before: 5 })), [2, 3, 4]);
  assert.deepEqual(seqs(await s.getRuns("r", { last: 50 })), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await rejects(s.getRuns("r", { last: 3, order: "desc" }), ValidationError);
  await rejects(s.getRuns("r", { last: 0 }), ValidationError);
});

test("putRun replaces by key or seq and keeps seqs, keys and later runs; truncate and pop remove the tail", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "e" });
  await s.appendRuns("e", [{ text: "u1" }, { text: "a1" }, { text: "u2" }, { text: "a2" }], {
    keys: ["u1", "a1", "u2", "a2"],
  });
  assert.deepEqual(await s.putRun("e", { key: "a2" }, { text: "a2 continued" }), { version: 3, runCount: 4 });
  assert.deepEqual(await s.putRun("e", { seq: 2 }, { text: "a1'" }), { version: 4, runCount: 4 });
  assert.deepEqual(await texts(s, "e"), ["1:u1:u1", "2:a1:a1'", "3:u2:u2", "4:a2:a2 continued"]);
  await rejects(s.putRun("e", { key: "zz" }, { text: "x" }), ValidationError);
  await rejects(s.putRun("e", { seq: 2 }, { text: "x" }, { expectedVersion: 3 }), ConflictError);
  assert.deepEqual(await s.truncateRuns("e", { key: "a1" }), { version: 5, runCount: 2 });
  assert.deepEqual(await texts(s, "e"), ["1:u1:u1", "2:a1:a1'"]);
  assert.equal(await s.getRun("e", "u2"), null, "a truncated key is gone");
  await s.appendRuns("e", [{ text: "u2 again" }], { keys: ["u2"] });
  assert.deepEqual(
    await texts(s, "e"),
    ["1:u1:u1", "2:a1:a1'", "3:u2:u2 again"],
    "seqs are reused after a truncate",
  );
  const popped = await s.popRun("e");
  assert.equal(popped?.seq, 3);
  assert.equal(popped?.key, "u2");
  assert.deepEqual(popped?.run, { text: "u2 again" });
  assert.deepEqual(await s.truncateRuns("e", { seq: 0 }), { version: 8, runCount: 0 });
  assert.equal(await s.popRun("e"), null);
  await rejects(s.popRun("missing"), SessionNotFoundError);
});

test("replaceRuns swaps the tail only if it is unchanged; of two concurrent replacements one wins", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "x" });
  await s.appendRuns("x", [{ text: "q" }, { text: "draft" }], { keys: ["q", "d"] });
  const tail = (await s.getRuns("x", { after: 1 })).runs;
  const results = await Promise.allSettled([
    s.replaceRuns("x", { expectedSuffix: tail, replacement: [{ text: "one" }], keys: ["r1"] }),
    s.replaceRuns("x", { expectedSuffix: tail, replacement: [{ text: "two" }], keys: ["r2"] }),
  ]);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.ok(lost.reason instanceof RunConflictError, `the loser gets RunConflictError, got ${lost.reason}`);
  const after = await texts(s, "x");
  assert.ok(after.join() === "1:q:q,2:r1:one" || after.join() === "1:q:q,2:r2:two", after.join());
  await s.replaceRuns("x", { expectedSuffix: [], replacement: [{ text: "end" }] });
  assert.equal((await texts(s, "x")).length, 3);
  await rejects(s.replaceRuns("x", { expectedSuffix: tail, replacement: [] }), RunConflictError);
});

test("edits check ownership and refuse a foreign user's session", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "o", userId: "ada" });
  await s.appendRuns("o", [{ text: "a" }], { userId: "ada", keys: ["k"] });
  await rejects(s.popRun("o", { userId: "bob" }), SessionNotFoundError);
  await rejects(s.popRun("o"), UserMismatchError);
  await rejects(s.truncateRuns("o", { seq: 0 }, { userId: "bob" }), SessionNotFoundError);
  assert.deepEqual(await texts(s, "o"), ["1:k:a"]);
  assert.equal((await s.popRun("o", { userId: "ada" }))?.key, "k");
});

test("patch changes only the given fields; update retries on conflicts", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({
    sessionId: "p",
    userId: "ada",
    memory: { a: 1 },
    sessionData: { keep: true },
    sessionName: "n",
  });
  const patched = await s.patch("p", { memory: { a: 2 } }, { userId: "ada" });
  assert.deepEqual(patched.memory, { a: 2 });
  assert.deepEqual(patched.sessionData, { keep: true });
  assert.equal(patched.sessionName, "n");
  assert.equal(patched.version, 2);
  await rejects(s.patch("p", { memory: { a: 3 } }, { userId: "ada", expectedVersion: 1 }), ConflictError);
  await rejects(s.patch("p", { userId: "bob" } as never), ValidationError);
  await rejects(s.patch("none", { memory: {} }), SessionNotFoundError);
  // Ten concurrent increments through update: none lost.
  await Promise.all(
    Array.from(
      { length: 10 },
      () =>
        s.update("p", (cur) => ({ ...cur!, memory: { a: Number(cur!.memory!.a) + 1 } }), {
          userId: "ada",
          retries: 20,
        }),
    ),
  );
  assert.deepEqual((await s.read("p"))?.memory, { a: 12 });
  const created = await s.update("fresh", (cur) => ({ sessionId: "fresh", memory: { was: cur === null } }));
  assert.deepEqual(created.memory, { was: true });
  await rejects(s.update("p", () => ({ sessionId: "other" })), ValidationError);
  let calls = 0;
  await rejects(
    s.update("p", async (cur) => {
      calls++;
      await s.patch("p", { sessionName: `bump ${calls}` }, { userId: "ada" }); // someone else writes first
      return { ...cur!, memory: {} };
    }, { userId: "ada", retries: 2 }),
    ConflictError,
  );
  assert.equal(calls, 3, "tried once and retried twice");
});

test("exports carry run keys and an import restores them", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "k" });
  await s.appendRuns("k", [{ text: "a" }, { text: "b" }], { keys: ["ka", null] });
  const session = (await s.read("k"))!;
  const runs = (await s.getRuns("k")).runs;
  await s.drop();
  await s.importSessions([{ session, runs }]);
  assert.deepEqual(await texts(s, "k"), ["1:ka:a", "2:-:b"]);
  assert.deepEqual(await s.appendRuns("k", [{ text: "a" }], { keys: ["ka"] }), {
    version: session.version,
    runCount: 2,
  });
  await rejects(
    s.importSessions([{ session: { ...session, sessionId: "k2" }, runs: [runs[0]!, { ...runs[1]!, key: "ka" }] }]),
    ValidationError,
  );
});
