import { createClient } from "@libsql/client";
import assert from "node:assert/strict";
import { LIBSQL_SCHEMA_VERSION, LibsqlStorage } from "../backends/libsql.ts";
import { CorruptRecordError, StorageError, ValidationError } from "../session/errors.ts";
import { runConformance } from "./conformance/mod.ts";
import { libsqlFileBackend, libsqlMemoryBackend } from "./support/backends.ts";
import { killWhileWriting } from "./support/process.ts";
import { tempDir } from "./support/temp.ts";

runConformance(libsqlMemoryBackend());
runConformance(libsqlFileBackend());

Deno.test("LibsqlStorage create() migrates a version-1 table (no run log) with its data intact", async () => {
  const dir = await tempDir("libsql-migrate");
  const url = `file:${dir.path}/v1.db`;
  try {
    // Version 1 of this project's layout, as released before run logs existed.
    const v1 = createClient({ url });
    await v1.batch([
      "CREATE TABLE agentstate_schema (table_name TEXT PRIMARY KEY NOT NULL, mode TEXT NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
      "INSERT INTO agentstate_schema VALUES ('agent_sessions', 'agent', 1, 0)",
      "CREATE TABLE agent_sessions (session_id TEXT PRIMARY KEY NOT NULL, user_id TEXT, session_name TEXT, agent_id TEXT, team_session_id TEXT, memory TEXT, session_data TEXT, extra_data TEXT, agent_data TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL)",
      `INSERT INTO agent_sessions VALUES ('old', 'ada', 'kept', 'a1', NULL, '{"turns":3}', NULL, NULL, NULL, 1000, 2000, 7)`,
    ], "write");
    v1.close();
    await using storage = new LibsqlStorage({ url });
    assert.equal(await storage.schemaVersion(), 1);
    await storage.create();
    assert.equal(await storage.schemaVersion(), LIBSQL_SCHEMA_VERSION);
    const old = await storage.read("old");
    assert.deepEqual(
      [old?.userId, old?.sessionName, old?.agentId, old?.memory, old?.createdAt, old?.updatedAt, old?.version],
      ["ada", "kept", "a1", { turns: 3 }, 1000, 2000, 7],
    );
    assert.deepEqual(await storage.appendRuns("old", [{ turn: 4 }], { userId: "ada" }), { version: 8, runCount: 1 });
  } finally {
    await dir.remove();
  }
});

Deno.test("LibsqlStorage waits for a file locked by another process, then throws a StorageError", async () => {
  const dir = await tempDir("libsql-lock");
  const path = `${dir.path}/locked.db`;
  try {
    await using storage = new LibsqlStorage({ url: `file:${path}`, busyTimeoutMs: 300 });
    await storage.upsert({ sessionId: "s" });
    // A second process takes the write lock and holds it for 1.5 s.
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `
        import { createClient } from "npm:@libsql/client@^0.18";
        const c = createClient({ url: "file:${path}" });
        const tx = await c.transaction("write");
        await tx.execute("INSERT INTO agent_sessions (session_id, created_at, updated_at, version) VALUES ('x', 0, 0, 1)");
        console.log("locked");
        await new Promise((r) => setTimeout(r, 1500));
        await tx.rollback();
        c.close();
      `,
      ],
      stdout: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const reader = holder.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /locked/);
    const started = performance.now();
    const error = await storage.upsert({ sessionId: "s", memory: { n: 1 } }).catch((e) => e);
    const waited = performance.now() - started;
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /libsql: upsert failed: .*(locked|busy)/i);
    assert.ok(waited >= 250, `waited ${waited} ms, expected about the busy timeout`);
    reader.releaseLock();
    await holder.stdout.cancel();
    await holder.status;
    assert.equal((await storage.read("s"))?.version, 1, "the failed write left the previous version");
    assert.equal((await storage.upsert({ sessionId: "s", memory: { n: 2 } })).version, 2, "works once released");
  } finally {
    await dir.remove();
  }
});

Deno.test("LibsqlStorage rejects table names that are not plain identifiers", () => {
  for (
    const table of ['x"; DROP TABLE y; --', "a b", "1abc", "sqlite_master", "agentstate_schema", "", "x".repeat(64)]
  ) {
    assert.throws(() => new LibsqlStorage({ table }), ValidationError, table);
  }
});

Deno.test("LibsqlStorage: a corrupt JSON column is a CorruptRecordError naming the row", async () => {
  const client = createClient({ url: ":memory:" });
  try {
    await using storage = new LibsqlStorage({ client });
    await storage.upsert({ sessionId: "bad", memory: { ok: true } });
    await client.execute("UPDATE agent_sessions SET memory = '{broken' WHERE session_id = 'bad'");
    const error = await storage.read("bad").catch((e) => e);
    assert.ok(error instanceof CorruptRecordError, String(error));
    assert.match(error.message, /agent_sessions row "bad"/);
    await assert.rejects(storage.listSessions(), CorruptRecordError);
  } finally {
    client.close();
  }
});

Deno.test("LibsqlStorage: every listing path is served by an index, never by sorting the table", async () => {
  await using storage = new LibsqlStorage({ mode: "team", ttlMs: 60_000 });
  for (const filter of [{}, { userId: "u" }, { entityId: "t" }]) {
    for (const sortBy of ["createdAt", "updatedAt"] as const) {
      for (const order of ["asc", "desc"] as const) {
        const plan = (await storage.explainList({ ...filter, sortBy, order })).join(" / ");
        assert.match(plan, /USING (COVERING )?INDEX team_sessions_/, plan);
        assert.doesNotMatch(plan, /TEMP B-TREE/, `${JSON.stringify(filter)} ${sortBy} ${order}: ${plan}`);
      }
    }
  }
});

Deno.test("LibsqlStorage: a writer killed (SIGKILL) during upsertMany leaves all or none of each batch", async () => {
  const dir = await tempDir("libsql-crash");
  try {
    for (const delay of [100, 300, 700]) {
      const worker = new URL("./support/libsql_worker.ts", import.meta.url).pathname;
      await killWhileWriting(worker, [`${dir.path}/crash.db`], delay);
      await using storage = new LibsqlStorage({ url: `file:${dir.path}/crash.db` });
      const sessions = await storage.getAllSessions();
      const rounds = new Set(sessions.map((s) => s.memory?.round));
      assert.ok(sessions.length === 0 || sessions.length === 100, `${sessions.length} sessions`);
      assert.ok(rounds.size <= 1, `one batch, not a mix: rounds ${[...rounds]}`);
    }
  } finally {
    await dir.remove();
  }
});
