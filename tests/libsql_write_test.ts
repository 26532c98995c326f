/**
 * How LibsqlStorage writes on an embedded file: lean updates (only the
 * indexes on updated_at change), group commit of the writes of one tick,
 * bounded busy waits, and flat memory over long write loops.
 */
import assert from "node:assert/strict";
import { LIBSQL_SCHEMA_VERSION, LibsqlStorage } from "../backends/libsql.ts";
import { openNative } from "../backends/libsql/native_executor.ts";
import { bindStatement } from "../engines/sql/dialect.ts";
import { SqlRefusedError } from "../engines/sql/executor.ts";
import { sqliteDialect } from "../engines/sql/sqlite.ts";
import { ConflictError } from "../session/errors.ts";
import { tempDir } from "./support/temp.ts";
import { holdWriteLock } from "./support/sqlite_lock.ts";

/** The session table's listing indexes a statement opens for writing, from its bytecode (triggers included). */
async function writtenBy(path: string, sql: string, args: Record<string, string | number | null>): Promise<string[]> {
  const executor = await openNative(path, 1000);
  try {
    const dialect = sqliteDialect("agent_sessions", "agent");
    const names = new Map<number, string>();
    for (const row of (await executor.query({ sql: "SELECT name, rootpage FROM sqlite_schema", args: [] })).rows) {
      names.set(Number(row["rootpage"]), String(row["name"]));
    }
    const plan = await executor.query(bindStatement(dialect, { sql: `EXPLAIN ${sql}`, args }));
    const written = plan.rows.filter((row) => row["opcode"] === "OpenWrite").map((row) => names.get(Number(row["p2"])));
    return [...new Set(written)].filter((n) => n?.startsWith("agent_sessions_") && !n.startsWith("agent_sessions_runs"))
      .sort() as string[];
  } finally {
    await executor.close();
  }
}

Deno.test("LibsqlStorage: an update keeping owner, name and entity ids writes only the updated_at indexes", async () => {
  const dir = await tempDir("libsql-lean");
  const path = `${dir.path}/lean.db`;
  try {
    await using storage = new LibsqlStorage({ url: `file:${path}` });
    await storage.upsert({ sessionId: "s", userId: "ada", agentId: "a", sessionName: "n", memory: { n: 1 } });
    const dialect = sqliteDialect("agent_sessions", "agent");
    const args = {
      session_id: "s",
      user_id: "ada",
      session_name: "n",
      agent_id: "a",
      team_session_id: null,
      memory: "{}",
      session_data: null,
      extra_data: null,
      agent_data: null,
      now: 1,
      live: null,
      expected: null,
    };
    assert.deepEqual(await writtenBy(path, dialect.leanUpdate, args), [
      "agent_sessions_entity_updated",
      "agent_sessions_updated",
      "agent_sessions_user_updated",
    ]);
    // The full statement (used when a key column changes) writes every index.
    assert.deepEqual(await writtenBy(path, dialect.upsert, args), [
      "agent_sessions_created",
      "agent_sessions_entity_created",
      "agent_sessions_entity_updated",
      "agent_sessions_name",
      "agent_sessions_updated",
      "agent_sessions_user_created",
      "agent_sessions_user_updated",
    ]);
    // Both paths keep the rules: a changed name, a stale version, another user.
    const renamed = await storage.upsert({ sessionId: "s", userId: "ada", agentId: "a", sessionName: "m" });
    assert.deepEqual([renamed.version, renamed.sessionName, renamed.memory], [2, "m", null]);
    const lean = await storage.upsert({
      sessionId: "s",
      userId: "ada",
      agentId: "a",
      sessionName: "m",
      memory: { n: 3 },
    }, {
      expectedVersion: 2,
    });
    assert.deepEqual([lean.version, lean.createdAt, (await storage.read("s"))?.memory], [3, renamed.createdAt, {
      n: 3,
    }]);
    await assert.rejects(
      storage.upsert({ sessionId: "s", userId: "ada", agentId: "a", sessionName: "m" }, { expectedVersion: 2 }),
      ConflictError,
    );
    await assert.rejects(storage.upsert({ sessionId: "s", userId: "bob", agentId: "a", sessionName: "m" }));
    assert.equal((await storage.read("s"))?.version, 3);
  } finally {
    await dir.remove();
  }
});

Deno.test("LibsqlStorage: listing by name uses the partial name index; every layout version is reached", async () => {
  await using storage = new LibsqlStorage();
  await storage.create();
  assert.equal(await storage.schemaVersion(), LIBSQL_SCHEMA_VERSION);
  const plan = (await storage.explainList({ sessionName: "n" })).join(" / ");
  assert.match(plan, /USING INDEX agent_sessions_name \(session_name=\?\)/, plan);
});

Deno.test("SQLite dialect: by-key statements are bound as one-row (fetched with one step), listings are not", async () => {
  const d = sqliteDialect("agent_sessions", "agent");
  const bound = (sql: string) => bindStatement(d, { sql, args: new Proxy({}, { get: () => null }) });
  for (const sql of [d.read, d.leanUpdate, d.upsert, d.updateIfVersion, d.runByKey]) {
    assert.equal(bound(sql).oneRow, true, sql);
  }
  for (
    const sql of [
      d.runs.asc,
      d.list({ limit: 20, order: "desc", sortBy: "updatedAt", after: null, liveAfter: null }, false).sql,
    ]
  ) {
    assert.equal(bound(sql).oneRow, undefined, sql);
  }
  // A one-row statement returns its row (and counts it as the change of a write); an absent row is none.
  const executor = await openNative(":memory:", 1000);
  try {
    await executor.query({ sql: "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)", args: [] });
    await executor.query({ sql: "INSERT INTO t VALUES ('a', 1)", args: [] });
    const update = { sql: "UPDATE t SET v = v + 1 WHERE k = ?1 RETURNING v", oneRow: true };
    assert.deepEqual(await executor.query({ ...update, args: ["a"] }), { rows: [{ v: 2 }], rowsAffected: 1 });
    assert.deepEqual(await executor.query({ ...update, args: ["b"] }), { rows: [], rowsAffected: 0 });
  } finally {
    await executor.close();
  }
});

Deno.test("NativeExecutor: the writes of one tick commit together; a refused one fails alone", async () => {
  const executor = await openNative(":memory:", 1000);
  try {
    await executor.query({ sql: "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)", args: [] });
    await executor.query({ sql: "INSERT INTO t VALUES ('hot', 0)", args: [] });
    const before = executor.commits;
    const guarded = Array.from({ length: 20 }, (_, i) =>
      executor.batch([
        { sql: "UPDATE t SET v = ?1 WHERE k = 'hot' AND v = 0", args: [i + 1], mustChange: true },
        { sql: "INSERT INTO t VALUES (?1, 1)", args: [`won-${i}`] },
      ]));
    const others = Array.from(
      { length: 20 },
      (_, i) => executor.query({ sql: "INSERT INTO t VALUES (?1, 2)", args: [`other-${i}`] }),
    );
    const results = await Promise.allSettled([...guarded, ...others]);
    const won = results.slice(0, 20).filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1, "exactly one guarded write wins");
    for (const r of results.slice(0, 20)) {
      if (r.status === "rejected") assert.ok(r.reason instanceof SqlRefusedError, String(r.reason));
    }
    assert.ok(results.slice(20).every((r) => r.status === "fulfilled"), "the unguarded writes all land");
    assert.equal(executor.commits - before, 1, "one transaction for the whole group");
    const rows = (await executor.query({ sql: "SELECT k FROM t WHERE k LIKE 'won-%'", args: [] })).rows;
    assert.equal(rows.length, 1, "the refused writes left nothing behind");
  } finally {
    await executor.close();
  }
});

Deno.test("NativeExecutor: when a group's transaction is lost, each write runs again alone", async () => {
  const executor = await openNative(":memory:", 1000);
  try {
    await executor.query({ sql: "CREATE TABLE t (k TEXT PRIMARY KEY)", args: [] });
    const before = executor.commits;
    const writes = [
      executor.query({ sql: "INSERT INTO t VALUES ('a')", args: [] }),
      // Ends the group's transaction from inside: its savepoint is gone.
      executor.transaction((tx) => tx.query({ sql: "ROLLBACK", args: [] })),
      executor.query({ sql: "INSERT INTO t VALUES ('b')", args: [] }),
    ];
    const results = await Promise.allSettled(writes);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.equal(executor.commits - before, 2, "the two good writes committed alone");
    const rows = (await executor.query({ sql: "SELECT k FROM t ORDER BY k", args: [] })).rows;
    assert.deepEqual(rows.map((r) => r["k"]), ["a", "b"]);
  } finally {
    await executor.close();
  }
});

Deno.test("LibsqlStorage: 20 writers on one session at one version, mixed with others in the same flush: one wins", async () => {
  const dir = await tempDir("libsql-group");
  try {
    await using storage = new LibsqlStorage({ url: `file:${dir.path}/group.db` });
    const hot = await storage.upsert({ sessionId: "hot", userId: "ada" });
    const writers = Array.from(
      { length: 20 },
      (_, i) => storage.upsert({ sessionId: "hot", userId: "ada", memory: { i } }, { expectedVersion: hot.version }),
    );
    const others = Array.from({ length: 20 }, (_, i) => storage.upsert({ sessionId: `o${i}`, memory: { i } }));
    const results = await Promise.allSettled([...writers, ...others]);
    const won = results.slice(0, 20).filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1);
    for (const r of results.slice(0, 20)) {
      if (r.status === "rejected") assert.ok(r.reason instanceof ConflictError, String(r.reason));
    }
    assert.ok(results.slice(20).every((r) => r.status === "fulfilled"));
    assert.equal((await storage.read("hot"))?.version, hot.version + 1);
    assert.equal((await storage.listSessions({ limit: 100 })).sessions.length, 21);
  } finally {
    await dir.remove();
  }
});

Deno.test("LibsqlStorage: a file locked by another process blocks the event loop no longer than busyTimeoutMs", async () => {
  const dir = await tempDir("libsql-busy");
  const path = `${dir.path}/locked.db`;
  try {
    await using storage = new LibsqlStorage({ url: `file:${path}`, busyTimeoutMs: 300 });
    await storage.upsert({ sessionId: "s" });
    const holder = await holdWriteLock(path, 2000);
    let last = performance.now();
    let longest = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 5);
    const writes = await Promise.allSettled([1, 2, 3].map((n) => storage.upsert({ sessionId: "s", memory: { n } })));
    await new Promise((r) => setTimeout(r, 20));
    clearInterval(ticker);
    await holder.release();
    assert.ok(writes.every((w) => w.status === "rejected"), "the locked writes failed");
    assert.ok(longest >= 250, `the wait (${longest} ms) is about the busy timeout`);
    // Margin for a loaded machine; three waits in a row (a group retried write by write) would be 900 ms.
    assert.ok(longest < 2 * 300, `the event loop stood still for ${longest} ms; the busy timeout is 300 ms`);
  } finally {
    await dir.remove();
  }
});

Deno.test("LibsqlStorage: RSS grows less than 5 MB over 10 000 sequential upserts and over a 10 000-session copy", async () => {
  const dir = await tempDir("libsql-memory");
  try {
    const worker = new URL("./support/libsql_worker.ts", import.meta.url).pathname;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", worker, "memory", `${dir.path}/memory.db`],
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr.slice(-1000));
    const growth = JSON.parse(new TextDecoder().decode(output.stdout).trim()) as { upserts: number; copy: number };
    console.log(
      `RSS growth: ${(growth.upserts / 2 ** 20).toFixed(2)} MB over 10 000 upserts, ` +
        `${(growth.copy / 2 ** 20).toFixed(2)} MB over a 10 000-session copy`,
    );
    assert.ok(growth.upserts < 5 * 2 ** 20, `upserts: +${growth.upserts} bytes`);
    assert.ok(growth.copy < 5 * 2 ** 20, `copy: +${growth.copy} bytes`);
  } finally {
    await dir.remove();
  }
});
