import { createClient } from "@libsql/client";
import assert from "node:assert/strict";
import { LibsqlStorage } from "../backends/libsql.ts";
import { StorageError } from "../session/errors.ts";
import { runConformance } from "./conformance/mod.ts";
import { libsqlRemoteBackend } from "./support/backends.ts";
import { startDropProxy } from "./support/drop_proxy.ts";
import { type HranaServer, startHranaServer } from "./support/hrana_server.ts";
import { tempDir } from "./support/temp.ts";

runConformance(libsqlRemoteBackend());

const token = "test-token";

async function withServer(fn: (server: HranaServer, path: string) => Promise<void>): Promise<void> {
  const d = await tempDir("hrana");
  const path = `${d.path}/db.db`;
  await Deno.writeFile(path, new Uint8Array());
  const server = await startHranaServer({ path, token });
  try {
    await fn(server, path);
  } finally {
    await server.stop();
    await d.remove();
  }
}

Deno.test("LibsqlStorage over HTTP: one request per read, upsert, list page, rename, delete and append", () =>
  withServer(async (server) => {
    await using storage = new LibsqlStorage({ url: server.url, authToken: token });
    await storage.upsertMany(Array.from({ length: 50 }, (_, i) => ({ sessionId: `s${i}`, userId: `u${i % 3}` })));
    await storage.read("s1"); // the first request of a client probes the protocol version
    const counts: Record<string, number> = {};
    const count = async (name: string, work: () => Promise<unknown>) => {
      server.resetCounts();
      await work();
      counts[name] = server.requests;
    };
    await count("read", () => storage.read("s1"));
    await count("upsert", () => storage.upsert({ sessionId: "s1", userId: "u1", memory: { a: 1 } }));
    await count(
      "upsert with expectedVersion",
      () => storage.upsert({ sessionId: "s1", userId: "u1" }, { expectedVersion: 2 }),
    );
    await count(
      "upsertMany of 20",
      () => storage.upsertMany(Array.from({ length: 20 }, (_, i) => ({ sessionId: `m${i}` }))),
    );
    await count("list page", () => storage.listSessions({ userId: "u2", limit: 10 }));
    await count("getRecentSessions", () => storage.getRecentSessions());
    await count("rename", () => storage.renameSession("s2", "x"));
    await count("appendRuns", () => storage.appendRuns("s2", [{ n: 1 }], { userId: "u2" }));
    const turn = {
      userId: "u9",
      keys: ["m1", "m2"],
      patch: { memory: { summary: "hi" }, sessionName: "chat" },
      create: true,
    };
    await count(
      "appendRuns creating the session, keyed, with a patch",
      () => storage.appendRuns("new-chat", [{ role: "user" }, { role: "assistant" }], turn),
    );
    await count(
      "appendRuns keyed replay",
      () => storage.appendRuns("new-chat", [{ role: "user" }, { role: "assistant" }], turn),
    );
    await count("getRun", () => storage.getRun("new-chat", "m2"));
    await count("getRuns", () => storage.getRuns("s2"));
    await count("delete", () => storage.deleteSession("s3"));
    console.log("libsql over HTTP, requests per operation:", JSON.stringify(counts));
    for (const [name, n] of Object.entries(counts)) assert.equal(n, 1, name);
    const chat = await storage.read("new-chat");
    assert.deepEqual([chat?.version, chat?.sessionName, chat?.memory], [1, "chat", { summary: "hi" }]);
    assert.deepEqual((await storage.getRuns("new-chat")).runs.map((r) => r.key), ["m1", "m2"]);
  }));

Deno.test("LibsqlStorage over HTTP: a wrong token or an unreachable server is a thrown StorageError", () =>
  withServer(async (server) => {
    await using wrong = new LibsqlStorage({ url: server.url, authToken: "wrong" });
    await assert.rejects(wrong.read("x"), (e) => e instanceof StorageError && /401|Unauthorized/i.test(e.message));
    await using nowhere = new LibsqlStorage({ url: "http://127.0.0.1:9" });
    await assert.rejects(nowhere.upsert({ sessionId: "x" }), StorageError);
  }));

Deno.test("LibsqlStorage over HTTP: a write whose reply is lost and which is re-sent returns its first result, once", () =>
  withServer(async (server) => {
    const proxy = startDropProxy(server.url);
    try {
      await using storage = new LibsqlStorage({ url: proxy.url, authToken: token });
      await using direct = new LibsqlStorage({ url: server.url, authToken: token });
      await storage.upsert({ sessionId: "warm-up" });
      let expectedDrops = 0;
      const lose = async <T>(id: string, write: () => Promise<T>): Promise<T> => {
        proxy.dropNextReply(id);
        const result = await write();
        assert.equal(proxy.dropped, ++expectedDrops, `the reply to the write on ${id} was dropped`);
        return result;
      };
      // A create with expectedVersion 0 and an update with the right version: no ConflictError.
      const created = await lose(
        "lost-create",
        () => storage.upsert({ sessionId: "lost-create" }, { expectedVersion: 0 }),
      );
      assert.equal(created.version, 1);
      const updated = await lose(
        "lost-create",
        () => storage.upsert({ sessionId: "lost-create", memory: { n: 2 } }, { expectedVersion: 1 }),
      );
      assert.deepEqual([updated.version, (await direct.read("lost-create"))?.version], [2, 2]);
      // An append runs once.
      await storage.upsert({ sessionId: "lost-append" });
      const appended = await lose("lost-append", () => storage.appendRuns("lost-append", [{ n: 1 }]));
      assert.deepEqual(appended, { version: 2, runCount: 1 });
      assert.deepEqual((await direct.getRuns("lost-append")).runs.map((r) => r.run), [{ n: 1 }]);
      // A turn that creates its session, with keys and a patch, runs once; so does an edit.
      const turn = await lose(
        "lost-turn",
        () =>
          storage.appendRuns("lost-turn", [{ n: 1 }, { n: 2 }], {
            keys: ["a", "b"],
            patch: { sessionName: "t" },
            create: true,
          }),
      );
      assert.deepEqual(turn, { version: 1, runCount: 2 });
      // (the edit's reads go first; its write is the request deleting runs after a seq)
      const truncated = await lose("AND seq > ?", () => storage.truncateRuns("lost-turn", { key: "a" }));
      assert.deepEqual(truncated, { version: 2, runCount: 1 });
      assert.deepEqual((await direct.getRuns("lost-turn")).runs.map((r) => r.key), ["a"]);
      // A batch returns each session's stamps.
      const many = await lose(
        "lost-many",
        () => storage.upsertMany([{ sessionId: "lost-many" }, { sessionId: "lost-many-2" }]),
      );
      assert.deepEqual(many.map((s) => s.version), [1, 1]);
      // A rename and a delete report what they did.
      assert.equal((await lose("lost-many-2", () => storage.renameSession("lost-many-2", "x")))?.sessionName, "x");
      assert.equal(await lose("lost-many", () => storage.deleteSession("lost-many")), true);
      assert.equal(await direct.read("lost-many"), null);
      // An import with onConflict "fail" does not fail on its own first run.
      const imported = await lose(
        "lost-import",
        () =>
          storage.importSessions([{ session: { ...created, sessionId: "lost-import" }, runs: [] }], {
            onConflict: "fail",
          }),
      );
      assert.deepEqual(imported, { imported: 1, skipped: 0 });
    } finally {
      await proxy.stop();
    }
  }));

Deno.test("LibsqlStorage over HTTP: operation ids older than the retention are forgotten by the next write", () =>
  withServer(async (server, path) => {
    await using storage = new LibsqlStorage({ url: server.url, authToken: token });
    await storage.upsert({ sessionId: "first" });
    const client = createClient({ url: `file:${path}` });
    try {
      await client.execute("INSERT INTO agentstate_ops (op_id, created_at, result) VALUES ('old', 0, '[]')");
      const count = async () => Number((await client.execute("SELECT count(*) FROM agentstate_ops")).rows[0]![0]);
      assert.equal(await count(), 2);
      await storage.upsert({ sessionId: "second" });
      await storage.deleteSession("first");
      assert.equal(await count(), 3, "the old id went, the three recent writes stay");
      const old = await client.execute("SELECT 1 FROM agentstate_ops WHERE op_id = 'old'");
      assert.equal(old.rows.length, 0);
    } finally {
      client.close();
    }
  }));
