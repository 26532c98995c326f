// The encryption group of the conformance suite.
import * as assert from "../_assert.ts";
import { CorruptRecordError, StorageError } from "../../session/errors.ts";
import type { JsonObject, RunRecord } from "../../session/types.ts";
import { group, rejects } from "./_case.ts";

const { cases, test } = group("encryption");
/** The cases of the encryption group. */
export { cases };

test("encryptionKey: content and runs are ciphertext at rest, ids stay queryable", async ({ make, place }) => {
  const key = new Uint8Array(32).fill(7);
  const s = await make({ mode: "agent", encryptionKey: key }, place);
  const secret = { diagnosis: "very private", list: [1, "two"] };
  const stored = await s.upsert({
    sessionId: "e",
    userId: "ada",
    agentId: "doc",
    memory: secret,
    agentData: { k: 1 },
  });
  assert.deepEqual(stored.memory, secret);
  assert.deepEqual((await s.read("e"))?.memory, secret);
  assert.deepEqual((await s.listSessions({ userId: "ada", entityId: "doc" })).sessions.map((x) => x.memory), [
    secret,
  ]);
  await s.appendRuns("e", [{ said: "private words" }], { userId: "ada" });
  assert.deepEqual((await s.getRuns("e")).runs.map((r) => r.run), [{ said: "private words" }]);
  assert.deepEqual((await s.renameSession("e", "Visit"))?.memory, secret);
  if (!s.capabilities.persistent) return;
  const plain = await make({ mode: "agent", encryption: { keepSealed: true } }, place);
  const raw = await plain.read("e");
  assert.equal(raw?.userId, "ada");
  assert.equal(raw?.sessionName, "Visit");
  assert.equal(JSON.stringify(raw).includes("very private"), false, "memory is encrypted at rest");
  assert.equal(JSON.stringify(await plain.getRuns("e")).includes("private words"), false, "runs are encrypted");
  const keyless = await make({ mode: "agent" }, place);
  for (const attempt of [() => keyless.read("e"), () => keyless.getRuns("e"), () => keyless.listSessions()]) {
    const refused = await rejects(attempt(), StorageError);
    assert.equal(refused.name, "DecryptionError", refused.message);
    assert.ok(refused.message.includes("no encryptionKey"), refused.message);
  }
  const wrong = await make({ mode: "agent", encryptionKey: new Uint8Array(32).fill(8) }, place);
  const error = await rejects(wrong.read("e"), StorageError);
  assert.equal(error.name, "DecryptionError");
  assert.equal(error.message.includes("very private"), false);
  await rejects(wrong.getRuns("e"), StorageError);
});

/** Asserts `attempt` fails as tampering: a `DecryptionError` or a `CorruptRecordError`, named for the backend. */
async function tampered(attempt: Promise<unknown>, name: "DecryptionError" | "CorruptRecordError"): Promise<void> {
  const error = await rejects(attempt, StorageError);
  assert.equal(error.name, name, error.message);
  if (name === "CorruptRecordError") assert.ok(error instanceof CorruptRecordError);
}

test("tampering with stored ciphertext is detected: null, older, mixed, swapped or copied", async ({ make, place }) => {
  const key = new Uint8Array(32).fill(3);
  const s = await make({ mode: "agent", encryptionKey: key }, place);
  await s.upsert({ sessionId: "t", userId: "ada", memory: { v: 1 }, sessionData: { keep: true } });
  if (!s.capabilities.persistent) return;
  const plain = await make({ mode: "agent", encryption: { keepSealed: true } }, place); // sees the envelopes
  const older = (await plain.read("t"))!;
  await s.upsert({ sessionId: "t", userId: "ada", memory: { v: 2 }, sessionData: null });
  const current = (await plain.read("t"))!;
  assert.ok(current.sessionData !== null, "null is encrypted too");
  const write = (changes: Record<string, unknown>) => plain.upsert({ ...current, ...changes });

  await write({ memory: null });
  await tampered(s.read("t"), "CorruptRecordError");
  await write({ sessionData: null });
  await tampered(s.read("t"), "CorruptRecordError");
  await write({ memory: { v: 9 } });
  await tampered(s.read("t"), "CorruptRecordError");
  await write({ memory: older.memory });
  await tampered(s.read("t"), "CorruptRecordError");
  await tampered(s.listSessions(), "CorruptRecordError");
  await write({ memory: { ...older.memory, w: (current.memory as JsonObject).w } });
  await tampered(s.read("t"), "DecryptionError");
  await write({ memory: current.sessionData, sessionData: current.memory });
  await tampered(s.read("t"), "DecryptionError");
  await write({});
  assert.deepEqual([(await s.read("t"))?.memory, (await s.read("t"))?.sessionData], [{ v: 2 }, null]);

  await s.appendRuns("t", [{ n: 1 }, { n: 2 }], { userId: "ada" });
  const session = (await plain.read("t"))!;
  const [one, two] = (await plain.getRuns("t")).runs as [RunRecord, RunRecord];
  const restore = (runs: RunRecord[]) => plain.importSessions([{ session, runs }], { onConflict: "overwrite" });
  await restore([{ ...one, run: two.run }, { ...two, run: one.run }]);
  await tampered(s.getRuns("t"), "DecryptionError");
  await restore([one, two, { ...one, seq: 3 }]);
  await tampered(s.getRuns("t"), "DecryptionError");
  await restore([one, { ...two, run: { n: 2 } }]);
  await tampered(s.getRuns("t"), "DecryptionError");
  await restore([one, two]);
  assert.deepEqual((await s.getRuns("t")).runs.map((r) => r.run), [{ n: 1 }, { n: 2 }]);
});

test("encrypted appends bind each run to its seq, also when appenders race", async ({ make }) => {
  const s = await make({ mode: "workflow", encryptionKey: new Uint8Array(16).fill(5) });
  await s.upsert({ sessionId: "w" });
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.appendRuns("w", [{ i }, { i, second: 1 }])));
  assert.deepEqual(
    results.map((r) => r.runCount).sort((a, b) => a - b),
    Array.from({ length: 8 }, (_, i) => 2 * i + 2),
  );
  const runs = (await s.getRuns("w", { limit: 100 })).runs;
  assert.deepEqual(runs.map((r) => r.seq), Array.from({ length: 16 }, (_, i) => i + 1));
  for (let i = 0; i < 16; i += 2) assert.deepEqual(runs[i + 1]?.run, { ...runs[i]!.run, second: 1 });
  assert.equal((await s.read("w"))?.version, 9);
  await s.upsert({ sessionId: "w" });
  const raced = await Promise.allSettled([
    s.appendRuns("w", [{ x: 1 }], { expectedVersion: 10 }),
    s.appendRuns("w", [{ y: 1 }], { expectedVersion: 10 }),
  ]);
  assert.equal(raced.filter((r) => r.status === "fulfilled").length, 1, "expectedVersion still decides");
  assert.equal((await s.getRuns("w", { order: "desc", limit: 1 })).runs[0]?.seq, 17);
});

/** Seals like format 1 did (before write tags and seq binding), to show such records still read. */
async function sealFormat1(key: Uint8Array, context: string, value: JsonObject): Promise<JsonObject> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const cryptoKey = await crypto.subtle.importKey("raw", new Uint8Array(key), "AES-GCM", false, ["encrypt"]);
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    cryptoKey,
    new TextEncoder().encode(JSON.stringify(value)),
  );
  const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  return { "agentstate:aes-gcm": 1, iv: base64(iv), data: base64(new Uint8Array(data)) };
}

test("records and runs encrypted by format 1 still read; mixing formats in one record does not", async ({ make, place }) => {
  const key = new Uint8Array(32).fill(9);
  const s = await make({ mode: "agent", encryptionKey: key }, place);
  if (!s.capabilities.persistent) return;
  const plain = await make({ mode: "agent", encryption: { keepSealed: true } }, place);
  const memory = await sealFormat1(key, "agent\u0000old\u0000memory", { from: "format 1" });
  const run = await sealFormat1(key, "agent\u0000old\u0000run", { said: "old" });
  const session = { sessionId: "old", memory, createdAt: 1, updatedAt: 2, version: 3 };
  await plain.importSessions([{ session, runs: [{ seq: 1, createdAt: 1, run }] }]);
  const read = await s.read("old");
  assert.deepEqual([read?.memory, read?.sessionData, read?.version], [{ from: "format 1" }, null, 3]);
  await s.appendRuns("old", [{ said: "new" }]);
  assert.deepEqual((await s.getRuns("old")).runs.map((r) => r.run), [{ said: "old" }, { said: "new" }]);
  const rewritten = (await plain.read("old"))!;
  assert.equal((rewritten.memory as JsonObject)["agentstate:aes-gcm"], 1, "an append does not re-encrypt fields");
  await s.upsert({ sessionId: "old", memory: { now: 2 } });
  const upgraded = (await plain.read("old"))!;
  assert.equal((upgraded.memory as JsonObject)["agentstate:aes-gcm"], 2, "the next write stores format 2");
  await plain.upsert({ ...upgraded, memory });
  await tampered(s.read("old"), "CorruptRecordError");
});

test("content stored in clear: a DecryptionError with a key, read with allowPlaintext and encrypted by its next write", async ({ make, place }) => {
  const key = new Uint8Array(32).fill(6);
  const before = await make({ mode: "agent" }, place);
  await before.upsert({ sessionId: "p", userId: "ada", memory: { old: true } });
  await before.appendRuns("p", [{ said: "in clear" }], { userId: "ada" });
  if (!before.capabilities.persistent) return;
  const strict = await make({ mode: "agent", encryptionKey: key }, place);
  for (const attempt of [() => strict.read("p"), () => strict.getRuns("p"), () => strict.listSessions()]) {
    const error = await rejects(attempt(), StorageError);
    assert.equal(error.name, "DecryptionError", error.message);
    assert.ok(error.message.includes("allowPlaintext"), error.message);
  }
  const migrating = await make({ mode: "agent", encryptionKey: key, encryption: { allowPlaintext: true } }, place);
  assert.deepEqual((await migrating.read("p"))?.memory, { old: true });
  assert.deepEqual((await migrating.listSessions()).sessions.map((x) => x.memory), [{ old: true }]);
  await migrating.appendRuns("p", [{ said: "sealed" }], { userId: "ada" });
  assert.deepEqual((await migrating.getRuns("p")).runs.map((r) => r.run), [{ said: "in clear" }, { said: "sealed" }]);
  await migrating.upsert({ ...(await migrating.read("p"))!, memory: { old: false } });
  assert.deepEqual((await strict.read("p"))?.memory, { old: false }, "the next write encrypted it");
  const raw = await make({ mode: "agent", encryption: { keepSealed: true } }, place);
  assert.equal(JSON.stringify(await raw.read("p")).includes("old"), false);
  const sealed = (await raw.read("p"))!;
  await raw.upsert({ ...sealed, memory: { swapped: 1 } });
  await tampered(migrating.read("p"), "CorruptRecordError"); // one field in clear beside encrypted ones
});

test("the encryption option: misuse is a ValidationError; keyless storages do not write encrypted shapes", async ({ make }) => {
  const key = new Uint8Array(16).fill(1);
  for (
    const options of [
      { encryption: { allowPlaintext: true } },
      { encryptionKey: key, encryption: { keepSealed: true } },
      { encryptionKey: key, encryption: { allowPlaintxt: true } },
      { encryptionKey: key, encryption: { allowPlaintext: "yes" } },
    ]
  ) await rejects(make({ mode: "agent", ...options } as never), StorageError);
  const s = await make({ mode: "agent" });
  const shape = { "agentstate:aes-gcm": 2, iv: "AAAA", data: "AAAA" };
  const error = await rejects(s.upsert({ sessionId: "x", memory: shape }), StorageError);
  assert.equal(error.name, "ValidationError");
  assert.ok(error.message.includes("memory"), error.message);
  await rejects(s.upsert({ sessionId: "x" }).then(() => s.appendRuns("x", [shape])), StorageError);
  assert.equal((await s.getRuns("x")).runs.length, 0);
});
