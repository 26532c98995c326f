import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { IDBFactory } from "fake-indexeddb";
import { IndexedDbStorage } from "../backends/indexeddb.ts";
import { CorruptRecordError } from "../session/errors.ts";
import { runConformance } from "./conformance.ts";
import { legacyAgentSession } from "./support/fixtures.ts";
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

Deno.test("IndexedDbStorage reads and upgrades a layout-1 database (fields inline, no runs store)", async () => {
  const factory = new IDBFactory();
  // Layout 1: one store per mode, content inline, no run log.
  const open = factory.open("legacy", 1);
  open.onupgradeneeded = () => {
    const store = open.result.createObjectStore("agent_sessions", { keyPath: "sessionId" });
    store.createIndex("created", ["createdAt", "k"]);
    store.put({ ...legacyAgentSession(), k: [111, 108, 100] });
  };
  const db = await new Promise<typeof open.result>((resolve) => open.onsuccess = () => resolve(open.result));
  db.close();
  await using storage = new IndexedDbStorage({ indexedDB: factory, dbName: "legacy" });
  const old = await storage.read("old");
  assert.deepEqual([old?.memory, old?.sessionName, old?.version, old?.createdAt], [{ turns: 3 }, "kept", 7, 1000]);
  assert.deepEqual(await storage.appendRuns("old", [{ turn: 4 }], { userId: "ada" }), { version: 8, runCount: 1 });
  assert.deepEqual((await storage.read("old"))?.memory, { turns: 3 });
});
