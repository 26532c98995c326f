import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { IDBFactory } from "fake-indexeddb";
import { IndexedDbStorage } from "../backends/indexeddb.ts";
import { CorruptRecordError } from "../session/errors.ts";
import { runConformance } from "./conformance.ts";
import { indexedDbBackend } from "./support/backends.ts";

runConformance(indexedDbBackend());

Deno.test("IndexedDbStorage: an aborted transaction writes nothing; a broken record is a CorruptRecordError", async () => {
  const factory = new IDBFactory();
  await using storage = new IndexedDbStorage({ indexedDB: factory, dbName: "t" });
  await storage.upsert({ sessionId: "owned", userId: "alice" });
  await assert.rejects(storage.upsertMany([{ sessionId: "a" }, { sessionId: "owned", userId: "bob" }]));
  assert.equal(await storage.read("a"), null);
  // Write a record by hand that is not a session.
  const request = factory.open("t");
  const db = await new Promise<typeof request.result>((resolve) => request.onsuccess = () => resolve(request.result));
  await new Promise<void>((resolve) => {
    const tx = db.transaction(["agent_sessions"], "readwrite");
    tx.objectStore("agent_sessions").put({ sessionId: "bad", version: "x" });
    tx.oncomplete = () => resolve();
  });
  db.close();
  await assert.rejects(storage.read("bad"), CorruptRecordError);
});

Deno.test("IndexedDbStorage: storages of two modes on one database upgrade it in turn and keep both", async () => {
  const factory = new IDBFactory();
  const agent = new IndexedDbStorage({ indexedDB: factory, dbName: "shared" });
  const team = new IndexedDbStorage({ indexedDB: factory, dbName: "shared", mode: "team" });
  await agent.upsert({ sessionId: "a" });
  await team.upsert({ sessionId: "t" });
  await agent.upsert({ sessionId: "a2" });
  assert.deepEqual((await agent.getAllSessionIds()).sort(), ["a", "a2"]);
  assert.deepEqual(await team.getAllSessionIds(), ["t"]);
  await team.drop();
  assert.deepEqual((await agent.getAllSessionIds()).sort(), ["a", "a2"]);
  await agent.close();
  await team.close();
});
