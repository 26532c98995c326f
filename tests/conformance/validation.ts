// The validation group of the conformance suite.
import * as assert from "../_assert.ts";
import { StorageError, ValidationError } from "../../session/errors.ts";
import { compareIds } from "../../session/list.ts";
import { group, rejects } from "./_case.ts";

const { cases, test } = group("validation");
/** The cases of the validation group. */
export { cases };

test("invalid sessions are refused with ValidationError naming the path; nothing stored", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  const bad: [unknown, string][] = [
    [{ sessionId: "" }, "sessionId"],
    [{ sessionId: "x".repeat(513) }, "sessionId"],
    [{ sessionId: 5 }, "sessionId"],
    [{ sessionId: "v", memory: { a: [1, NaN] } }, "memory.a[1]"],
    [{ sessionId: "v", memory: { a: Infinity } }, "memory.a"],
    [{ sessionId: "v", sessionData: { a: { b: undefined } } }, "sessionData.a.b"],
    [{ sessionId: "v", extraData: { f: () => 1 } }, "extraData.f"],
    [{ sessionId: "v", memory: cycle }, "memory.self"],
    [{ sessionId: "v", memory: { d: new Date(0) } }, "memory.d"],
    [{ sessionId: "v", memory: { n: 10n } }, "memory.n"],
    [{ sessionId: "v", memory: [1, 2] }, "memory"],
    [{ sessionId: "v", userId: "" }, "userId"],
    [{ sessionId: "v", agentId: 3 }, "agentId"],
    [{ sessionId: "v", memory: { s: "lone \ud800" } }, "memory.s"],
    [{ sessionId: "v", agentID: "typo" }, "(root)"],
    [{ sessionId: "v", teamId: "wrong mode" }, "(root)"],
    [null, "(root)"],
  ];
  for (const [input, path] of bad) {
    const error = await rejects(s.upsert(input as never), ValidationError);
    assert.ok(error.message.includes(path), `${error.message} should name ${path}`);
  }
  await rejects(s.upsert({ sessionId: "v" }, { expectedVersion: -1 }), ValidationError);
  await rejects(s.upsert({ sessionId: "v" }, { expectedVersion: 1.5 }), ValidationError);
  await rejects(s.read(""), ValidationError);
  await rejects(s.deleteSession("", {}), ValidationError);
  await rejects(s.renameSession("v", 5 as never), ValidationError);
  assert.deepEqual(await s.getAllSessionIds(), []);
});

test("1 000 levels of nesting and a 5 MB payload round-trip; 10 000 levels are refused", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const nest = (levels: number) => {
    let value: Record<string, unknown> = { leaf: true };
    for (let i = 1; i < levels; i++) value = { d: value };
    return value;
  };
  const deep = nest(999); // memory itself is the 1000th level
  const big = { text: "é😀x".repeat(1_250_000) }; // 5 MB of UTF-8
  await s.upsert({ sessionId: "deep", memory: deep, sessionData: big });
  const read = await s.read("deep");
  assert.equal(JSON.stringify(read?.memory), JSON.stringify(deep));
  assert.equal((read?.sessionData as { text: string }).text, big.text);
  const error = await rejects(s.upsert({ sessionId: "deeper", memory: nest(10_000) }), ValidationError);
  assert.ok(error.message.includes("nested deeper than 1000 levels"), error.message);
  await rejects(s.appendRuns("deep", [nest(10_000) as never]), ValidationError);
  assert.equal(await s.read("deeper"), null);
});

test("hostile strings: lone surrogates are refused, the rest is stored exactly", async ({ make }) => {
  const s = await make({ mode: "agent" });
  for (const bad of ["\ud800", "a\udfffb", "\udc00\ud800"]) {
    await rejects(s.upsert({ sessionId: bad }), ValidationError);
    await rejects(s.upsert({ sessionId: "ok", userId: bad }), ValidationError);
    await rejects(s.read(bad), ValidationError);
  }
  const nasty = [
    "%s%n%x",
    "[^]*$",
    "%%[%a]+",
    "\\x00",
    "\u0001\u001f\u007f",
    "\r\n",
    "' OR 1=1 --",
    "\u202e",
    "\ufeff",
  ];
  for (const text of nasty) {
    const saved = await s.upsert({ sessionId: text, sessionName: text, agentId: text, memory: { [text]: text } });
    assert.deepEqual(await s.read(text), saved);
  }
  assert.equal(await s.read("nope"), null);
  assert.deepEqual((await s.getAllSessionIds()).sort(compareIds), [...nasty].sort(compareIds));
});

test("error messages name paths, never session content", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const secret = "SECRET-diagnosis-4711";
  const error = await rejects(s.upsert({ sessionId: "p", memory: { note: secret, bad: NaN } }), ValidationError);
  assert.ok(error.message.includes("memory.bad"), error.message);
  assert.ok(!error.message.includes(secret), error.message);
  await s.upsert({ sessionId: "p", userId: "owner", memory: { note: secret } });
  // One at a time: both started at once, the second may be refused before anyone awaits it (an unhandled rejection).
  for (
    const attempt of [
      () => s.upsert({ sessionId: "p", userId: "x", memory: {} }),
      () => s.upsert({ sessionId: "p", userId: "owner" }, { expectedVersion: 9 }),
    ]
  ) {
    const refused = await rejects(attempt(), StorageError);
    assert.ok(!refused.message.includes(secret), refused.message);
  }
});

test("lengths count characters (code points): 512 emoji are an id, 513 are not; 1024 emoji a name", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const id = "😀".repeat(512); // 1024 UTF-16 units, 2048 UTF-8 bytes
  const name = "é😀".repeat(512);
  const saved = await s.upsert({ sessionId: id, userId: id, agentId: id, sessionName: name });
  assert.deepEqual(await s.read(id, id), saved);
  assert.deepEqual((await s.listSessions({ userId: id, entityId: id, sessionName: name })).sessions, [saved]);
  assert.equal((await s.renameSession(id, "😀".repeat(1024)))?.sessionName, "😀".repeat(1024));
  assert.deepEqual((await s.appendRuns(id, [{ n: 1 }], { userId: id })).runCount, 1);
  assert.equal(await s.deleteSession(id, { userId: id }), true);
  const tooLong = "😀".repeat(513);
  for (
    const attempt of [
      () => s.upsert({ sessionId: tooLong }),
      () => s.upsert({ sessionId: "x", userId: tooLong }),
      () => s.upsert({ sessionId: "x", agentId: tooLong }),
      () => s.upsert({ sessionId: "x", sessionName: "😀".repeat(1025) }),
      () => s.renameSession("x", "😀".repeat(1025)),
      () => s.read(tooLong),
      () => s.listSessions({ userId: tooLong }),
    ]
  ) {
    const error = await rejects(attempt(), ValidationError);
    assert.ok(/at most (512|1024) characters/.test(error.message), error.message);
  }
  assert.deepEqual(await s.getAllSessionIds(), []);
});
