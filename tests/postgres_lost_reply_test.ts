/**
 * PostgresStorage when the connection dies with a write's reply, through a
 * TCP proxy (tests/support/drop_proxy.ts) that lets the request reach the
 * server, waits for the answer and then closes the client's connection. A
 * transaction whose COMMIT reply is lost is looked up (`txid_status`) and, as
 * it committed, returns its result; a single-statement write whose reply is
 * lost is a StorageError although it ran (README: PostgreSQL).
 */
import assert from "node:assert/strict";
import { PostgresStorage } from "../backends/postgres.ts";
import { StorageError } from "../session/errors.ts";
import { postgresServer } from "./support/backends.ts";
import { type DropProxy, startDropProxy } from "./support/drop_proxy.ts";
import { skipWithoutPostgres } from "./support/postgres_server.ts";

const ignore = await skipWithoutPostgres("PostgreSQL lost-reply tests");

/** A storage (pool of one) reaching the shared cluster through a reply-dropping proxy, in a fresh schema. */
async function throughProxy(
  fn: (storage: PostgresStorage, direct: PostgresStorage, proxy: DropProxy) => Promise<void>,
): Promise<void> {
  const server = await postgresServer();
  const proxy = startDropProxy(`http://127.0.0.1:${server.port}`);
  const schema = `lost_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const url = new URL(server.url);
  url.port = new URL(proxy.url).port;
  try {
    await using storage = new PostgresStorage({ url: url.href, schema, poolSize: 1 });
    await using direct = new PostgresStorage({ url: server.url, schema });
    await storage.create();
    await fn(storage, direct, proxy);
  } finally {
    await proxy.stop();
  }
}

Deno.test({
  name: "postgres: a batch whose COMMIT reply is lost returns its result, written once",
  ignore,
  fn: () =>
    throughProxy(async (storage, direct, proxy) => {
      await storage.upsertMany([{ sessionId: "a", memory: { n: 1 } }, { sessionId: "b", memory: { n: 1 } }]);
      proxy.dropNextReply("COMMIT");
      const saved = await storage.upsertMany([{ sessionId: "a", memory: { n: 2 } }, {
        sessionId: "b",
        memory: { n: 2 },
      }]);
      assert.equal(proxy.dropped, 1, "the reply to COMMIT was dropped");
      assert.deepEqual(saved.map((s) => [s.sessionId, s.version, s.memory]), [["a", 2, { n: 2 }], ["b", 2, { n: 2 }]]);
      assert.deepEqual((await direct.read("a"))?.version, 2);

      // A turn appended with a patch: several statements in one transaction.
      proxy.dropNextReply("COMMIT");
      const appended = await storage.appendRuns("a", [{ q: "hi" }, { a: "yo" }], {
        keys: ["k1", "k2"],
        patch: { memory: { n: 3 } },
      });
      assert.equal(proxy.dropped, 2);
      assert.deepEqual(appended, { version: 3, runCount: 2 });
      assert.deepEqual((await direct.getRuns("a")).runs.map((r) => r.key), ["k1", "k2"]);
      assert.deepEqual((await direct.read("a"))?.memory, { n: 3 });

      // The pool replaced the lost connection.
      assert.equal((await storage.upsert({ sessionId: "a" })).version, 4);
    }),
});

Deno.test({
  name: "postgres: a single-statement write whose reply is lost is a StorageError, and it ran",
  ignore,
  fn: () =>
    throughProxy(async (storage, direct, proxy) => {
      await storage.upsert({ sessionId: "a", memory: { n: 1 } });
      proxy.dropNextReply("lost-single-write");
      await assert.rejects(storage.upsert({ sessionId: "a", memory: { n: "lost-single-write" } }), (error) => {
        assert.ok(error instanceof StorageError, String(error));
        assert.equal(error.backend, "postgres");
        return true;
      });
      assert.equal(proxy.dropped, 1);
      const stored = await direct.read("a");
      assert.deepEqual([stored?.version, stored?.memory], [2, { n: "lost-single-write" }]);
      // Retried with expectedVersion, the write cannot run twice: the conflict shows it landed.
      await assert.rejects(
        storage.upsert({ sessionId: "a", memory: { n: "lost-single-write" } }, { expectedVersion: 1 }),
        (error) => error instanceof StorageError && error.name === "ConflictError",
      );
    }),
});
