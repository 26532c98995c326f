import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { IDBDatabase, IDBFactory, IDBKeyRange, IDBObjectStore } from "fake-indexeddb";
import { IndexedDbStorage } from "../backends/indexeddb.ts";
import { CorruptRecordError, StorageError } from "../session/errors.ts";
import type { AgentSession } from "../session/types.ts";
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

type Db = InstanceType<typeof IDBDatabase>;
type ObjectStore = InstanceType<typeof IDBObjectStore>;
type Factory = InstanceType<typeof IDBFactory>;

/** Opens `name` on `factory` directly, to look at or damage what the storage wrote. */
async function openRaw(factory: Factory, name: string): Promise<Db> {
  const request = factory.open(name);
  return await new Promise((resolve) => request.onsuccess = () => resolve(request.result));
}

/** Runs `edit` on `store` in one readwrite transaction and waits for it to commit. */
async function editRaw(factory: Factory, name: string, store: string, edit: (s: ObjectStore) => void) {
  const db = await openRaw(factory, name);
  await new Promise<void>((resolve, reject) => {
    const tx = db.transaction([store], "readwrite");
    edit(tx.objectStore(store));
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
  db.close();
}

Deno.test("IndexedDbStorage: every write is ONE readwrite transaction, however many records it touches", async () => {
  await using storage = new IndexedDbStorage({ indexedDB: new IDBFactory(), dbName: "count" });
  await storage.create();
  const real = IDBDatabase.prototype.transaction;
  let readwrite = 0;
  IDBDatabase.prototype.transaction = function (this: Db, ...args: Parameters<typeof real>) {
    if (args[1] === "readwrite") readwrite++;
    return real.apply(this, args);
  };
  const counts: Record<string, number> = {};
  const count = async (name: string, write: () => Promise<unknown>) => {
    readwrite = 0;
    await write();
    counts[name] = readwrite;
  };
  try {
    await count(
      "upsertMany x50",
      () => storage.upsertMany(Array.from({ length: 50 }, (_, i) => ({ sessionId: `s${i}` }))),
    );
    await count("appendRuns x200", () => storage.appendRuns("s1", Array.from({ length: 200 }, (_, i) => ({ i }))));
    await count("import x20 with 5 runs each", () =>
      storage.importSessions(
        Array.from({ length: 20 }, (_, i) => ({
          session: { ...legacyAgentSession(), sessionId: `imp${i}` } as unknown as AgentSession,
          runs: Array.from({ length: 5 }, (_, k) => ({ seq: k + 1, createdAt: 1, run: { k } })),
        })),
      ));
    await count("renameSession", () => storage.renameSession("s1", "named"));
    await count("deleteSession", () => storage.deleteSession("s1"));
  } finally {
    IDBDatabase.prototype.transaction = real;
  }
  assert.deepEqual(counts, {
    "upsertMany x50": 1,
    "appendRuns x200": 1,
    "import x20 with 5 runs each": 1,
    renameSession: 1,
    deleteSession: 1,
  });
  assert.equal((await storage.getAllSessionIds()).length, 69);
});

Deno.test("IndexedDbStorage: a request failing late in a write rolls back every earlier put of it", async () => {
  const factory = new IDBFactory();
  await using storage = new IndexedDbStorage({ indexedDB: factory, dbName: "late" });
  await storage.upsert({ sessionId: "s" });
  await storage.appendRuns("s", [{ n: 1 }]);
  const real = IDBObjectStore.prototype.put;
  let puts = 0;
  // The 150th run put becomes an `add` of an existing key: it fails asynchronously (ConstraintError).
  IDBObjectStore.prototype.put = function (this: ObjectStore, value: unknown, key?: Parameters<typeof real>[1]) {
    if (this.name === "agent_runs" && ++puts === 150) return this.add({ ...(value as object), seq: 1 }, key);
    return real.call(this, value, key);
  };
  try {
    const error = await storage.appendRuns("s", Array.from({ length: 200 }, (_, i) => ({ n: i + 2 }))).catch((e) => e);
    assert.equal(error?.name, "StorageError", String(error));
    assert.match(String(error.cause ?? error), /ConstraintError|already exists|Key/i);
  } finally {
    IDBObjectStore.prototype.put = real;
  }
  assert.equal((await storage.read("s"))?.version, 2);
  const { runs } = await storage.getRuns("s", { limit: 500 });
  assert.deepEqual(runs.map((r) => r.run), [{ n: 1 }]);
  // Nothing of the failed batch is stored either, beyond the run count.
  const db = await openRaw(factory, "late");
  const stored = await new Promise<number>((resolve) => {
    const request = db.transaction(["agent_runs"], "readonly").objectStore("agent_runs").count();
    request.onsuccess = () => resolve(request.result);
  });
  db.close();
  assert.equal(stored, 1);
});

Deno.test("IndexedDbStorage: a run that is not a JSON object, or a missing run within runCount, is a CorruptRecordError naming it", async () => {
  const factory = new IDBFactory();
  await using storage = new IndexedDbStorage({ indexedDB: factory, dbName: "runs" });
  await storage.upsert({ sessionId: "s" });
  await storage.appendRuns("s", [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const corrupt = async (order: "asc" | "desc", location: string, detail: RegExp) => {
    const error = await storage.getRuns("s", { order }).catch((e) => e);
    assert.ok(error instanceof CorruptRecordError, String(error));
    assert.equal(error.location, location);
    assert.match(error.message, detail);
    assert.equal(error.backend, "indexeddb");
  };
  for (const [run, detail] of [["7", /not a JSON object/], ["[1]", /not a JSON object/], ["{", /not valid JSON/]]) {
    await editRaw(factory, "runs", "agent_runs", (s) => s.put({ sessionId: "s", seq: 2, createdAt: 1, run }));
    await corrupt("asc", 'runs/agent_runs/["s",2]', detail as RegExp);
  }
  await editRaw(factory, "runs", "agent_runs", (s) => s.delete(["s", 2]));
  await corrupt("asc", 'runs/agent_runs/["s",2]', /run 2 of 3 is missing/);
  await corrupt("desc", 'runs/agent_runs/["s",2]', /run 2 of 3 is missing/);
  await editRaw(factory, "runs", "agent_runs", (s) => s.delete(["s", 3]));
  await corrupt("asc", 'runs/agent_runs/["s",2]', /run 2 of 3 is missing/);
  await corrupt("desc", 'runs/agent_runs/["s",3]', /run 3 of 3 is missing/);
  await editRaw(factory, "runs", "agent_runs", (s) => s.delete(["s", 1]));
  await corrupt("asc", 'runs/agent_runs/["s",1]', /run 1 of 3 is missing/);
  // A page that ends before the gap is still served.
  await storage.upsert({ sessionId: "ok" });
  await storage.appendRuns("ok", [{ n: 1 }, { n: 2 }, { n: 3 }]);
  await editRaw(factory, "runs", "agent_runs", (s) => s.delete(["ok", 3]));
  assert.deepEqual((await storage.getRuns("ok", { limit: 1 })).runs.map((r) => r.seq), [1]);
  await assert.rejects(storage.getRuns("ok", { limit: 3 }), CorruptRecordError);
});
