import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import { IndexedDbStorage } from "../backends/indexeddb.ts";
import { CorruptRecordError, StorageError } from "../session/errors.ts";
import { runConformance } from "./conformance/mod.ts";
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

Deno.test("IndexedDbStorage: storages of three modes opening one new database at once each get their stores", async () => {
  const factory = new IDBFactory();
  const modes = ["agent", "team", "workflow"] as const;
  const storages = modes.map((mode) => new IndexedDbStorage({ indexedDB: factory, dbName: "race", mode }));
  await Promise.all(storages.map((s, i) => s.upsert({ sessionId: `x${i}` })));
  // Drops and re-creations racing each other.
  await Promise.all([storages[0]!.drop(), storages[1]!.upsert({ sessionId: "y" }), storages[2]!.drop()]);
  assert.deepEqual(await storages[0]!.getAllSessionIds(), []);
  assert.deepEqual((await storages[1]!.getAllSessionIds()).sort(), ["x1", "y"]);
  assert.deepEqual(await storages[2]!.getAllSessionIds(), []);
  for (const s of storages) await s.close();
});

Deno.test("IndexedDbStorage: every listing path has an index keyed by code points after the sort value", async () => {
  const factory = new IDBFactory();
  await using storage = new IndexedDbStorage({ indexedDB: factory, dbName: "idx", mode: "team" });
  await storage.create();
  const request = factory.open("idx");
  const db = await new Promise<typeof request.result>((resolve) => request.onsuccess = () => resolve(request.result));
  const store = db.transaction(["team_sessions"], "readonly").objectStore("team_sessions");
  const paths = Object.fromEntries([...store.indexNames].map((name) => [name, store.index(name).keyPath]));
  db.close();
  assert.deepEqual(paths, {
    created: ["createdAt", "k"],
    updated: ["updatedAt", "k"],
    user_created: ["userId", "createdAt", "k"],
    user_updated: ["userId", "updatedAt", "k"],
    name_created: ["sessionName", "createdAt", "k"],
    name_updated: ["sessionName", "updatedAt", "k"],
    entity_created: ["teamId", "createdAt", "k"],
    entity_updated: ["teamId", "updatedAt", "k"],
  });
});

Deno.test("IndexedDbStorage: an upgrade blocked by a connection that never closes fails, then succeeds once it closes", async () => {
  const factory = new IDBFactory();
  const request = factory.open("blocked", 1);
  const stubborn = await new Promise<typeof request.result>((resolve) =>
    request.onsuccess = () => resolve(request.result)
  );
  stubborn.onversionchange = null; // an old tab that ignores versionchange
  await using storage = new IndexedDbStorage({ indexedDB: factory, dbName: "blocked", blockedTimeoutMs: 50 });
  const error = await storage.upsert({ sessionId: "s" }).catch((e) => e);
  assert.ok(error instanceof StorageError, String(error));
  assert.match(error.message, /blocked by another connection/);
  stubborn.close();
  assert.equal((await storage.upsert({ sessionId: "s" })).version, 1);
});

Deno.test("IndexedDbStorage without IndexedDB throws a clear StorageError on first use", async () => {
  const g = globalThis as Record<string, unknown>;
  const saved = [g.indexedDB, g.IDBKeyRange];
  try {
    g.indexedDB = undefined;
    g.IDBKeyRange = undefined;
    await using none = new IndexedDbStorage();
    await assert.rejects(none.read("x"), /IndexedDB is not available here/);
    await using noRange = new IndexedDbStorage({ indexedDB: new IDBFactory() });
    await assert.rejects(noRange.read("x"), /pass the keyRange option/);
    await using both = new IndexedDbStorage({ indexedDB: new IDBFactory(), keyRange: IDBKeyRange });
    assert.equal(await both.read("x"), null);
  } finally {
    [g.indexedDB, g.IDBKeyRange] = saved;
  }
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
  // The upgrade added the indexes layout 1 lacked.
  assert.deepEqual((await storage.listSessions({ userId: "ada" })).sessions.map((s) => s.sessionId), ["old"]);
  assert.deepEqual((await storage.listSessions({ sessionName: "kept", sortBy: "updatedAt" })).sessions.length, 1);
});
