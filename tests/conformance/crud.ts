// The crud group of the conformance suite.
import * as assert from "../_assert.ts";
import { UserMismatchError } from "../../session/errors.ts";
import { compareIds } from "../../session/list.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import { fullInput, group, HOSTILE_IDS, rejects, TestClock } from "./_case.ts";

const { cases, test } = group("crud");
/** The cases of the crud group. */
export { cases };

for (const mode of ["agent", "team", "workflow"] as const) {
  test(`round trip of every field (${mode})`, async ({ make }) => {
    const clock = new TestClock();
    const s = await make({ mode, clock: clock.fn });
    const input = fullInput(mode, "s1", 7);
    const stored = await s.upsert(input);
    const expected = { ...input, createdAt: clock.now, updatedAt: clock.now, version: 1 };
    assert.deepEqual(stored, expected);
    assert.deepEqual(await s.read("s1"), expected);
    assert.deepEqual(Object.keys(stored).sort(), [...MODE_FIELDS[mode].all].sort());
  });
}

test("missing fields become null", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const stored = await s.upsert({ sessionId: "bare" });
  for (const name of MODE_FIELDS.agent.all) {
    if (!["sessionId", "createdAt", "updatedAt", "version"].includes(name)) assert.equal(stored[name], null, name);
  }
});

test("read of a missing session is null", async ({ make }) => {
  const s = await make({ mode: "agent" });
  assert.equal(await s.read("nope"), null);
});

test("createdAt is kept, updatedAt and version advance", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn });
  const first = await s.upsert({ sessionId: "s", memory: { n: 1 } });
  clock.advance(1000);
  const second = await s.upsert({ sessionId: "s", memory: { n: 2 } });
  assert.equal(second.createdAt, first.createdAt);
  assert.equal(second.updatedAt, first.updatedAt + 1000);
  assert.equal(second.version, 2);
  assert.deepEqual(second.memory, { n: 2 });
  clock.advance(5);
  const third = await s.upsert({ ...second, memory: { n: 3 } });
  assert.deepEqual([third.createdAt, third.version], [first.createdAt, 3]);
});

test("read with another user is null", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "s", userId: "alice" });
  assert.equal(await s.read("s", "bob"), null);
  assert.equal((await s.read("s", "alice"))?.userId, "alice");
  assert.equal((await s.read("s"))?.userId, "alice");
});

test("upsert over another user's session throws UserMismatchError and changes nothing", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const before = await s.upsert({ sessionId: "s", userId: "alice", memory: { secret: 1 } });
  await rejects(s.upsert({ sessionId: "s", userId: "bob", memory: { stolen: 1 } }), UserMismatchError);
  await rejects(s.upsert({ sessionId: "s", memory: { stolen: 1 } }), UserMismatchError);
  await rejects(s.upsert({ sessionId: "s", userId: "bob" }, { expectedVersion: 1 }), UserMismatchError);
  assert.deepEqual(await s.read("s"), before);
});

test("an unowned session can be claimed by a user", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "s" });
  const claimed = await s.upsert({ sessionId: "s", userId: "carol" });
  assert.deepEqual([claimed.userId, claimed.version], ["carol", 2]);
});

test("deleteSession removes only with the right user", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "s", userId: "alice" });
  assert.equal(await s.deleteSession("s", { userId: "bob" }), false);
  assert.notEqual(await s.read("s"), null);
  assert.equal(await s.deleteSession("s", { userId: "alice" }), true);
  assert.equal(await s.read("s"), null);
  assert.equal(await s.deleteSession("s"), false);
  await s.upsert({ sessionId: "t", userId: "x" });
  assert.equal(await s.deleteSession("t"), true);
  const again = await s.upsert({ sessionId: "t" });
  assert.equal(again.version, 1, "a deleted session starts again at version 1");
});

test("renameSession sets the name and bumps the version", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "team", clock: clock.fn });
  const first = await s.upsert({ sessionId: "s", userId: "alice", teamId: "t1" });
  clock.advance(10);
  const renamed = await s.renameSession("s", "Trip planning");
  assert.deepEqual(
    [renamed?.sessionName, renamed?.version, renamed?.updatedAt, renamed?.createdAt, renamed?.teamId],
    ["Trip planning", 2, first.updatedAt + 10, first.createdAt, "t1"],
  );
  assert.equal(await s.renameSession("s", "x", { userId: "bob" }), null);
  assert.equal(await s.renameSession("missing", "x"), null);
  assert.equal((await s.renameSession("s", null, { userId: "alice" }))?.sessionName, null);
  assert.equal((await s.read("s"))?.version, 3);
});

test("modes sharing one store never see each other", async ({ make, place }) => {
  const agent = await make({ mode: "agent" }, place);
  const team = await make({ mode: "team" }, place);
  const workflow = await make({ mode: "workflow" }, place);
  await agent.upsert({ sessionId: "same", agentId: "a" });
  assert.equal(await team.read("same"), null);
  await team.upsert({ sessionId: "same", teamId: "t" });
  await workflow.upsert({ sessionId: "same", workflowId: "w" });
  assert.equal((await agent.read("same"))?.agentId, "a");
  assert.equal((await team.read("same"))?.teamId, "t");
  assert.deepEqual(await agent.getAllSessionIds(), ["same"]);
  assert.equal(await team.deleteSession("same"), true);
  assert.equal((await agent.read("same"))?.version, 1);
  assert.equal((await workflow.read("same"))?.workflowId, "w");
});

test("hostile ids round-trip exactly", async ({ make }) => {
  const s = await make({ mode: "agent" });
  for (const id of HOSTILE_IDS) {
    await s.upsert({ sessionId: id, userId: id, agentId: id, sessionName: id, memory: { id } });
  }
  for (const id of HOSTILE_IDS) {
    const session = await s.read(id, id);
    assert.equal(session?.sessionId, id);
    assert.deepEqual(session?.memory, { id });
    assert.deepEqual((await s.listSessions({ userId: id })).sessions.map((x) => x.sessionId), [id]);
    assert.deepEqual((await s.listSessions({ entityId: id })).sessions.map((x) => x.sessionId), [id]);
    assert.deepEqual((await s.listSessions({ sessionName: id })).sessions.map((x) => x.sessionId), [id]);
  }
  assert.deepEqual((await s.getAllSessionIds()).sort(compareIds), [...HOSTILE_IDS].sort(compareIds));
  assert.equal(await s.deleteSession("*"), true);
  assert.equal((await s.getAllSessionIds()).length, HOSTILE_IDS.length - 1);
});

test("JSON keys that are special in JavaScript round-trip", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const memory = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "toString": 2, "": "empty"}');
  await s.upsert({ sessionId: "keys", memory });
  const read = await s.read("keys");
  assert.equal(JSON.stringify(read?.memory), JSON.stringify(memory));
  assert.ok(Object.hasOwn(read!.memory!, "__proto__"));
});

test("values are copied in and out", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const memory = { list: [1] };
  await s.upsert({ sessionId: "s", memory });
  memory.list.push(2);
  const read = await s.read("s");
  assert.deepEqual(read?.memory, { list: [1] });
  (read!.memory as { list: number[] }).list.push(3);
  assert.deepEqual((await s.read("s"))?.memory, { list: [1] });
});
