// The lifecycle group of the conformance suite.
import * as assert from "../_assert.ts";
import { StorageError } from "../../session/errors.ts";
import { group, rejects } from "./_case.ts";

const { cases, test } = group("lifecycle");
/** The cases of the lifecycle group. */
export { cases };

test("create is idempotent; drop then create gives an empty store and spares other modes", async ({ make, place }) => {
  const agent = await make({ mode: "agent" }, place);
  const team = await make({ mode: "team" }, place);
  await agent.create();
  await agent.create();
  await agent.upsert({ sessionId: "a1" });
  await team.upsert({ sessionId: "t1" });
  await agent.drop();
  await agent.create();
  assert.deepEqual(await agent.getAllSessionIds(), []);
  assert.equal(await agent.read("a1"), null);
  assert.deepEqual(await team.getAllSessionIds(), ["t1"]);
  await agent.upsert({ sessionId: "a2" });
  assert.deepEqual(await agent.getAllSessionIds(), ["a2"]);
});

test("data survives close when the backend is persistent", async ({ make, place }) => {
  const first = await make({ mode: "agent" }, place);
  await first.upsert({ sessionId: "kept", memory: { x: 1 } });
  if (!first.capabilities.persistent) return;
  await first.close();
  const second = await make({ mode: "agent" }, place);
  assert.deepEqual((await second.read("kept"))?.memory, { x: 1 });
});

test("a closed storage throws StorageError", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "x" });
  await s.close();
  await s.close();
  await rejects(s.read("x"), StorageError);
});
