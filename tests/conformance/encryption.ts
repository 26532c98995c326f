// The encryption group of the conformance suite.
import * as assert from "../_assert.ts";
import { StorageError } from "../../session/errors.ts";
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
  const plain = await make({ mode: "agent" }, place);
  const raw = await plain.read("e");
  assert.equal(raw?.userId, "ada");
  assert.equal(raw?.sessionName, "Visit");
  assert.equal(JSON.stringify(raw).includes("very private"), false, "memory is encrypted at rest");
  assert.equal(JSON.stringify(await plain.getRuns("e")).includes("private words"), false, "runs are encrypted");
  const wrong = await make({ mode: "agent", encryptionKey: new Uint8Array(32).fill(8) }, place);
  const error = await rejects(wrong.read("e"), StorageError);
  assert.equal(error.name, "DecryptionError");
  assert.equal(error.message.includes("very private"), false);
  await rejects(wrong.getRuns("e"), StorageError);
});
