// FieldCipher on records manipulated by hand: every tampering case of a stored record, without a backend.
import assert from "node:assert/strict";
import { FieldCipher } from "../session/encryption.ts";
import { CorruptRecordError, StorageError } from "../session/errors.ts";

const FIELDS = ["memory", "sessionData"] as const;
const cipher = new FieldCipher(new Uint8Array(32).fill(4), "agent");
const isDecryption = (e: unknown) => e instanceof StorageError && e.name === "DecryptionError";
type Sealed = Record<string, unknown> & { sessionId: string };

async function sealed(memory: unknown, sessionData: unknown = null, sessionId = "s"): Promise<Sealed> {
  return await cipher.seal({ sessionId, userId: "ada", memory, sessionData }, FIELDS);
}

Deno.test("FieldCipher: every field of a write, null included, is sealed under one write tag and opens", async () => {
  const record = await sealed({ a: 1 });
  const memory = record.memory as Record<string, unknown>;
  const data = record.sessionData as Record<string, unknown>;
  assert.equal(memory["agentstate:aes-gcm"], 2);
  assert.equal(data["agentstate:aes-gcm"], 2, "null is encrypted");
  assert.equal(memory.w, data.w);
  assert.notEqual((await sealed({ a: 1 })).memory, memory);
  assert.deepEqual(await cipher.open(record, FIELDS), {
    sessionId: "s",
    userId: "ada",
    memory: { a: 1 },
    sessionData: null,
  });
});

Deno.test("FieldCipher: a field set to null or plain JSON, or restored from another write, is a CorruptRecordError", async () => {
  const older = await sealed({ v: 1 });
  const record = await sealed({ v: 2 });
  for (const memory of [null, { v: 9 }, older.memory, [], "x"]) {
    await assert.rejects(cipher.open({ ...record, memory }, FIELDS), CorruptRecordError);
  }
  await assert.rejects(cipher.open({ ...record, sessionData: older.sessionData }, FIELDS), CorruptRecordError);
});

Deno.test("FieldCipher: a tag rewritten, a field moved to another field or session, or altered bytes do not decrypt", async () => {
  const older = await sealed({ v: 1 });
  const record = await sealed({ v: 2 }, { d: 1 });
  const tag = (record.memory as { w: string }).w;
  const cases: Sealed[] = [
    { ...record, memory: { ...(older.memory as object), w: tag } },
    { ...record, memory: record.sessionData, sessionData: record.memory },
    { ...record, sessionId: "other" },
    { ...record, memory: { ...(record.memory as object), data: btoa("not the ciphertext") } },
  ];
  for (const tampered of cases) await assert.rejects(cipher.open(tampered, FIELDS), isDecryption);
  const wrongKey = new FieldCipher(new Uint8Array(32).fill(5), "agent");
  await assert.rejects(wrongKey.open(record, FIELDS), isDecryption);
  const otherMode = new FieldCipher(new Uint8Array(32).fill(4), "team");
  await assert.rejects(otherMode.open(record, FIELDS), isDecryption);
});

Deno.test("FieldCipher: a run opens only at its own seq and session; null or plain runs are refused", async () => {
  const run = await cipher.sealRun({ said: "hi" }, "s", 2);
  assert.deepEqual(await cipher.openRun(run, "s", 2), { said: "hi" });
  await assert.rejects(cipher.openRun(run, "s", 1), isDecryption);
  await assert.rejects(cipher.openRun(run, "s", 3), isDecryption);
  await assert.rejects(cipher.openRun(run, "t", 2), isDecryption);
  for (const bad of [null, { said: "hi" }, 7, { ...run, w: "tag" }]) {
    await assert.rejects(cipher.openRun(bad, "s", 2), isDecryption);
  }
});

Deno.test("FieldCipher with allowPlaintext: records and runs in clear open as they are; a clear field beside sealed ones does not", async () => {
  const lenient = new FieldCipher(new Uint8Array(32).fill(4), "agent", true);
  const clear = { sessionId: "s", userId: "ada", memory: { a: 1 }, sessionData: null };
  assert.deepEqual(await lenient.open(clear, FIELDS), clear);
  assert.deepEqual(await lenient.openRun({ said: "hi" }, "s", 1), { said: "hi" });
  await assert.rejects(cipher.open(clear, FIELDS), isDecryption);
  await assert.rejects(cipher.openRun({ said: "hi" }, "s", 1), isDecryption);
  const record = await sealed({ v: 2 });
  assert.deepEqual((await lenient.open(record, FIELDS)).memory, { v: 2 });
  await assert.rejects(lenient.open({ ...record, memory: { v: 9 } }, FIELDS), CorruptRecordError);
});
