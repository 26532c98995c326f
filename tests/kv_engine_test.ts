/**
 * The key-value engine's primitive contract (engines/kv.ts), checked on a
 * real store: a transaction is all or nothing, readwrite transactions on the
 * same ids do not interleave, a transaction reads its own writes, and the
 * engine treats an expired record as absent for rename, delete and
 * appendRuns while leaving it stored for purge.
 */
import assert from "node:assert/strict";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import { KvEngine, type KvStore } from "../engines/kv.ts";
import { Connection } from "../backends/indexeddb/connection.ts";
import { IndexedDbKvStore } from "../backends/indexeddb/store.ts";
import { SessionNotFoundError, StorageError } from "../session/errors.ts";
import { parseSessionInput } from "../session/parse.ts";

type Open = () => KvStore<"agent">;

let databases = 0;
const stores: [string, Open][] = [
  ["indexeddb (fake-indexeddb)", () => {
    const options = {
      dbName: `kv${databases++}`,
      factory: new IDBFactory(),
      keyRange: IDBKeyRange,
      blockedTimeoutMs: 1000,
    };
    return new IndexedDbKvStore("agent", new Connection("agent", options));
  }],
];

/** A store holding sessions `ids`, written at time 1000 through the engine. */
async function seeded(open: Open, ids: string[]): Promise<{ store: KvStore<"agent">; engine: KvEngine<"agent"> }> {
  const store = open();
  const engine = new KvEngine(store);
  await engine.create();
  await engine.write(ids.map((sessionId) => parseSessionInput("agent", { sessionId })), { now: 1000, liveAfter: null });
  return { store, engine };
}

for (const [name, open] of stores) {
  Deno.test(`kv store ${name}: work that throws after writing leaves nothing written`, async () => {
    const { store, engine } = await seeded(open, ["a", "b"]);
    const a = (await engine.read("a"))!;
    const failed = store.transact("readwrite", ["a", "b", "c"], async (tx) => {
      await tx.put({ session: { ...a, sessionName: "changed", version: 2 }, runCount: 1 });
      await tx.appendRuns("a", 0, [{ seq: 1, key: null, digest: null, createdAt: 5, run: { n: 1 } }]);
      await tx.delete("b");
      await tx.put({ session: { ...a, sessionId: "c" }, runCount: 0 });
      throw new Error("refused");
    });
    await assert.rejects(failed, /refused/);
    assert.deepEqual(await engine.read("a"), a);
    assert.equal((await engine.read("b"))?.sessionId, "b");
    assert.equal(await engine.read("c"), null);
    await store.transact("readonly", ["a"], async (tx) => {
      const record = (await tx.get("a"))!;
      assert.equal(record.runCount, 0);
      assert.deepEqual(
        await tx.runs({ ...record, runCount: 1 }, { seqAbove: null, seqBelow: null, order: "asc", limit: 5 }).catch((
          e,
        ) => e.name),
        "CorruptRecordError",
      );
    });
    await store.close();
  });

  Deno.test(`kv store ${name}: a transaction reads its own writes`, async () => {
    const { store, engine } = await seeded(open, ["a"]);
    const a = (await engine.read("a"))!;
    const seen = await store.transact("readwrite", ["a", "n"], async (tx) => {
      await tx.put({ session: { ...a, sessionName: "x", version: 2 }, runCount: 2 });
      await tx.appendRuns("a", 0, [
        { seq: 1, key: null, digest: null, createdAt: 5, run: { n: 1 } },
        { seq: 2, key: null, digest: null, createdAt: 5, run: { n: 2 } },
      ]);
      await tx.delete("n");
      const record = (await tx.get("a"))!;
      return [
        record.session.sessionName,
        record.runCount,
        (await tx.runs(record, { seqAbove: null, seqBelow: null, order: "desc", limit: 9 })).map((r) => r.seq),
        await tx.get("n"),
      ];
    });
    assert.deepEqual(seen, ["x", 2, [2, 1], null]);
    await store.close();
  });

  Deno.test(`kv store ${name}: readwrite transactions on the same ids do not interleave`, async () => {
    const { store } = await seeded(open, ["a"]);
    // Each reads runCount, reads again (yielding to the others), then writes runCount + 1: interleaving loses updates.
    const increments = Array.from({ length: 20 }, () =>
      store.transact("readwrite", ["a"], async (tx) => {
        const first = (await tx.get("a"))!;
        const again = (await tx.get("a"))!;
        await tx.put({ session: again.session, runCount: first.runCount + 1 });
      }));
    await Promise.all(increments);
    const final = await store.transact("readonly", ["a"], async (tx) => (await tx.get("a"))!.runCount);
    assert.equal(final, 20);
    await store.close();
  });

  Deno.test(`kv engine over ${name}: an expired record is absent for rename, delete and appendRuns, and stays for purge`, async () => {
    const { engine } = await seeded(open, ["old", "new"]);
    await engine.write([parseSessionInput("agent", { sessionId: "new" })], { now: 3000, liveAfter: null });
    const context = { now: 4000, liveAfter: 2000 }; // updatedAt <= 2000 is expired
    assert.equal(await engine.rename("old", "x", context), null);
    assert.equal(await engine.delete("old", context), false);
    await assert.rejects(
      engine.appendRuns("old", [{ key: null, digest: null, run: { n: 1 } }], { ...context, userId: null }),
      SessionNotFoundError,
    );
    assert.deepEqual(
      await engine.getRuns("old", { ...context, seqAbove: null, seqBelow: null, order: "asc", limit: 5 }),
      [],
    );
    const old = (await engine.read("old"))!;
    assert.deepEqual([old.version, old.sessionName, old.updatedAt], [1, null, 1000]);
    // The live one is renamed; a write over the expired one starts afresh at version 1.
    assert.equal((await engine.rename("new", "x", context))?.version, 3);
    const [fresh] = await engine.write([parseSessionInput("agent", { sessionId: "old" })], context);
    assert.deepEqual([fresh!.version, fresh!.createdAt], [1, 4000]);
    assert.equal(await engine.purge(2000), 0);
    assert.equal(await engine.purge(5000), 2);
    assert.equal(await engine.read("old"), null);
    await engine.close();
  });
}

Deno.test("kv store indexeddb: work that awaits something other than the store fails clearly, not half-applied silently", async () => {
  const [, open] = stores[0]!;
  const { store, engine } = await seeded(open, ["a"]);
  const a = (await engine.read("a"))!;
  const error = await store.transact("readwrite", ["a"], async (tx) => {
    await tx.get("a");
    await new Promise((resolve) => setTimeout(resolve, 10)); // the IndexedDB transaction commits meanwhile
    await tx.put({ session: { ...a, version: 9 }, runCount: 0 });
  }).catch((e) => e);
  assert.ok(error instanceof StorageError, String(error));
  assert.match(error.message, /committed before its work finished/);
  assert.equal((await engine.read("a"))?.version, 1);
  await store.close();
});
