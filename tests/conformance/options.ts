// The options group of the conformance suite: option objects are checked as strictly as sessions.
import * as assert from "../_assert.ts";
import { ValidationError } from "../../session/errors.ts";
import { type AnyStorage, group, rejects } from "./_case.ts";

const { cases, test } = group("options");
/** The cases of the options group. */
export { cases };

/** Asserts that `attempt` is a `ValidationError` whose issues name `key`. */
async function refusesKey(attempt: Promise<unknown>, key: string): Promise<void> {
  const error = await rejects(attempt, ValidationError);
  assert.ok(error.issues.some((issue) => issue.path[0] === key), `${error.message} should name ${key}`);
  assert.ok(error.message.includes(key), error.message);
}

type Call = (s: AnyStorage, options: unknown) => Promise<unknown>;

// Every public method taking an options object, called with a misspelt or foreign key.
const methods: [method: string, call: Call, unknownKey: string][] = [
  ["upsert", (s, o) => s.upsert({ sessionId: "bob-1", memory: { stolen: true } }, o as never), "expectedVerison"],
  ["deleteSession", (s, o) => s.deleteSession("bob-1", o as never), "userID"],
  ["renameSession", (s, o) => s.renameSession("bob-1", "renamed", o as never), "user"],
  ["listSessions", (s, o) => s.listSessions(o as never), "user"],
  ["getAllSessionIds", (s, o) => s.getAllSessionIds(o as never), "sessionName"],
  ["getAllSessions", (s, o) => s.getAllSessions(o as never), "agentId"],
  ["getRecentSessions", (s, o) => s.getRecentSessions(o as never), "count"],
  ["appendRuns", (s, o) => s.appendRuns("bob-1", [{ injected: true }], o as never), "expected_version"],
  ["getRuns", (s, o) => s.getRuns("bob-1", o as never), "offset"],
  ["importSessions", (s, o) => s.importSessions([entry()], o as never), "on_conflict"],
];

function entry() {
  return { session: { sessionId: "imported", createdAt: 1, updatedAt: 2, version: 1 }, runs: [] };
}

/** Seeds bob's session with one run and returns a check that nothing about the store changed. */
async function seeded(s: AnyStorage): Promise<() => Promise<void>> {
  await s.upsert({ sessionId: "bob-1", userId: "bob", memory: { n: 1 } });
  await s.appendRuns("bob-1", [{ said: "hi" }], { userId: "bob" });
  const before = await s.read("bob-1");
  return async () => {
    assert.deepEqual(await s.read("bob-1"), before, "the session is untouched");
    assert.deepEqual((await s.getRuns("bob-1")).runs.map((r) => r.run), [{ said: "hi" }], "the runs are untouched");
    assert.deepEqual(await s.getAllSessionIds(), ["bob-1"], "nothing was added or removed");
  };
}

for (const [method, call, key] of methods) {
  test(`${method}: an unknown option key is a ValidationError naming it; nothing is touched`, async ({ make }) => {
    const s = await make({ mode: "agent" });
    const unchanged = await seeded(s);
    await refusesKey(call(s, { userId: "bob", [key]: 99 }), key);
    await refusesKey(call(s, { [key]: "ada" }), key);
    for (const notPlain of [null, [], ["userId"], new Date(0), "userId", 1]) {
      await rejects(call(s, notPlain), ValidationError);
    }
    await unchanged();
  });
}

test("upsertMany takes no options: passing some is a ValidationError, nothing is written", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const unchanged = await seeded(s);
  const many = s.upsertMany as (inputs: unknown[], options: unknown) => Promise<unknown>;
  await rejects(many.call(s, [{ sessionId: "bob-1" }, { sessionId: "new" }], { expectedVersion: 1 }), ValidationError);
  await unchanged();
});

test("the issue names the exact key: deleteSession with userID deletes nothing", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "bob-1", userId: "bob" });
  await refusesKey(s.deleteSession("bob-1", { userID: "ada" } as never), "userID");
  assert.equal((await s.read("bob-1"))?.userId, "bob");
  await refusesKey(s.listSessions({ user: "ada" } as never), "user");
  await refusesKey(
    s.upsert({ sessionId: "bob-1", userId: "bob" }, { expectedVerison: 99 } as never),
    "expectedVerison",
  );
  assert.equal((await s.read("bob-1"))?.version, 1);
});

test("constructor: an unknown option key is a ValidationError naming it", async ({ make }) => {
  await refusesKey(make({ mode: "agent", ttlMS: 1000 } as never), "ttlMS");
  await refusesKey(make({ mode: "agent", encryption_key: new Uint8Array(32) } as never), "encryption_key");
  await refusesKey(make({ mode: "agent", colour: "red" } as never), "colour");
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "ok" });
  assert.equal((await s.read("ok"))?.version, 1);
});
