import { createClient } from "@libsql/client";
import assert from "node:assert/strict";
import { readOnlyBackup } from "./support/read_only.ts";
import { LIBSQL_SCHEMA_VERSION, LibsqlStorage } from "../backends/libsql.ts";
import { LibsqlClientExecutor } from "../backends/libsql/client_executor.ts";
import { openNative, STATEMENT_CACHE_SIZE } from "../backends/libsql/native_executor.ts";
import { SqlEngine } from "../engines/sql/engine.ts";
import { SqlRefusedError, type SqlValue } from "../engines/sql/executor.ts";
import { sqliteDialect } from "../engines/sql/sqlite.ts";
import { CorruptRecordError, StorageError, ValidationError } from "../session/errors.ts";
import { runConformance } from "./conformance/mod.ts";
import { libsqlFileBackend, libsqlMemoryBackend } from "./support/backends.ts";
import { killWhileWriting } from "./support/process.ts";
import { tempDir } from "./support/temp.ts";
import { holdWriteLock } from "./support/sqlite_lock.ts";

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

Deno.test("LibsqlStorage create() migrates a version-2 table (runs without keys) with its runs intact", async () => {
  const dir = await tempDir("libsql-migrate2");
  const url = `file:${dir.path}/v2.db`;
  try {
    // Version 2 of this project's layout, as released with the append-only run log.
    const v2 = createClient({ url });
    await v2.batch([
      "CREATE TABLE agentstate_schema (table_name TEXT PRIMARY KEY NOT NULL, mode TEXT NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
      "INSERT INTO agentstate_schema VALUES ('agent_sessions', 'agent', 2, 0)",
      "CREATE TABLE agent_sessions (session_id TEXT PRIMARY KEY NOT NULL, user_id TEXT, session_name TEXT, agent_id TEXT, team_session_id TEXT, memory TEXT, session_data TEXT, extra_data TEXT, agent_data TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL)",
      `INSERT INTO agent_sessions VALUES ('old', 'ada', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1000, 2000, 3)`,
      "CREATE TABLE agent_sessions_runs (session_id TEXT NOT NULL, seq INTEGER NOT NULL, created_at INTEGER NOT NULL, run TEXT NOT NULL, PRIMARY KEY (session_id, seq)) WITHOUT ROWID",
      "CREATE TRIGGER agent_sessions_runs_on_delete AFTER DELETE ON agent_sessions BEGIN DELETE FROM agent_sessions_runs WHERE session_id = OLD.session_id; END",
      "CREATE TRIGGER agent_sessions_runs_on_restart AFTER UPDATE OF version ON agent_sessions WHEN NEW.version = 1 BEGIN DELETE FROM agent_sessions_runs WHERE session_id = NEW.session_id; END",
      `INSERT INTO agent_sessions_runs VALUES ('old', 1, 1500, '{"n":1}'), ('old', 2, 1600, '{"n":2}')`,
    ], "write");
    v2.close();
    await using storage = new LibsqlStorage({ url });
    assert.equal(await storage.schemaVersion(), 2);
    await storage.create();
    assert.equal(await storage.schemaVersion(), LIBSQL_SCHEMA_VERSION);
    assert.deepEqual((await storage.getRuns("old")).runs, [
      { seq: 1, key: null, createdAt: 1500, run: { n: 1 } },
      { seq: 2, key: null, createdAt: 1600, run: { n: 2 } },
    ]);
    const turn = { userId: "ada", keys: ["m3"] };
    assert.deepEqual(await storage.appendRuns("old", [{ n: 3 }], turn), { version: 4, runCount: 3 });
    assert.deepEqual(await storage.appendRuns("old", [{ n: 3 }], turn), { version: 4, runCount: 3 });
    assert.equal((await storage.getRun("old", "m3"))?.seq, 3);
  } finally {
    await dir.remove();
  }
});

Deno.test("LibsqlStorage: getRun and a keyed append's checks look keys up in the unique key index, never scanning the log", async () => {
  const dir = await tempDir("libsql-key-plan");
  try {
    await using storage = new LibsqlStorage({ url: `file:${dir.path}/plan.db` });
    await storage.create();
    const engine = new SqlEngine("agent", sqliteDialect("agent_sessions", "agent"), async () => {
      return await openNative(`${dir.path}/plan.db`, 1000);
    }, { schemaVersion: LIBSQL_SCHEMA_VERSION, clock: Date.now, idempotent: false, readOnly: false, local: true });
    try {
      // Before the keyed-append checks named the key list first (CROSS JOIN), SQLite walked the session's whole log
      // (SEARCH r USING PRIMARY KEY (session_id=?)), so a LangGraph put took longer as the thread grew.
      for (const [name, steps] of Object.entries(await engine.explainKeyed())) {
        const plan = steps.join(" / ");
        assert.match(
          plan,
          /SEARCH r USING (COVERING )?INDEX agent_sessions_runs_key \(session_id=\? AND key=\?/,
          `${name}: ${plan}`,
        );
        assert.doesNotMatch(plan, /SCAN r|PRIMARY KEY/, `${name}: ${plan}`);
      }
    } finally {
      await engine.close();
    }
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
    const holder = await holdWriteLock(path, 1500); // another process takes the write lock for 1.5 s
    const started = performance.now();
    const error = await storage.upsert({ sessionId: "s", memory: { n: 1 } }).catch((e) => e);
    const waited = performance.now() - started;
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /libsql: upsert failed: .*(locked|busy)/i);
    assert.ok(waited >= 250, `waited ${waited} ms, expected about the busy timeout`);
    await holder.release();
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
      await killWhileWriting(worker, ["write", `${dir.path}/crash.db`], delay);
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

for (
  const [name, open] of [
    ["@libsql/client", () => Promise.resolve(new LibsqlClientExecutor(createClient({ url: ":memory:" }), true))],
    ["the libsql package", () => openNative(":memory:", 1000)],
  ] as const
) {
  Deno.test(`SqlExecutor on ${name}: a batch is all or nothing, a refused step rolls it back, a transaction rolls back on throw`, async () => {
    const executor = await open();
    try {
      const run = (sql: string, ...args: SqlValue[]) => ({ sql, args });
      await executor.query(run("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"));
      const count = async () => Number((await executor.query(run("SELECT count(*) AS n FROM t"))).rows[0]!["n"]);
      const [inserted, selected] = await executor.batch([
        run("INSERT INTO t VALUES (?1, ?2) RETURNING v", "a", 1),
        run("SELECT v FROM t WHERE k = ?1", "a"),
      ]);
      assert.deepEqual([inserted!.rows, selected!.rows], [[{ v: 1 }], [{ v: 1 }]]);
      // A failing statement after a successful one: nothing of the batch stays.
      await assert.rejects(
        executor.batch([run("INSERT INTO t VALUES ('b', 2)"), run("INSERT INTO t VALUES ('a', 3)")]),
      );
      assert.equal(await count(), 1);
      // A step that must change a row and changes none refuses the batch.
      await assert.rejects(
        executor.batch([
          run("INSERT INTO t VALUES ('c', 4)"),
          { ...run("UPDATE t SET v = 9 WHERE k = 'absent'"), mustChange: true },
        ]),
        SqlRefusedError,
      );
      assert.equal(await count(), 1);
      await assert.rejects(
        executor.transaction(async (tx) => {
          await tx.query(run("INSERT INTO t VALUES ('d', 5)"));
          assert.equal(Number((await tx.query(run("SELECT count(*) AS n FROM t"))).rows[0]!["n"]), 2);
          throw new Error("abandon");
        }),
        /abandon/,
      );
      assert.equal(await count(), 1);
      assert.equal(
        await executor.transaction((tx) => tx.query(run("INSERT INTO t VALUES ('e', 6)")).then(() => "ok")),
        "ok",
      );
      assert.equal(await count(), 2);
    } finally {
      await executor.close();
    }
  });
}

/** Runs the read calls in a subprocess (a native abort must fail the test, not end the runner); one result per call. */
async function readInSubprocess(path: string, calls: string[]): Promise<Record<string, string>[]> {
  const worker = new URL("./support/libsql_worker.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", worker, "read", path, ...calls],
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `the reader exited with ${output.code}: ${stderr.slice(-500)}`);
  return new TextDecoder().decode(output.stdout).trim().split("\n").map((line) => JSON.parse(line));
}

Deno.test("LibsqlStorage: invalid UTF-8 in a TEXT column is a CorruptRecordError naming table, row and column", async () => {
  const dir = await tempDir("libsql-utf8");
  const path = `${dir.path}/bad.db`;
  try {
    await using storage = new LibsqlStorage({ url: `file:${path}` });
    await storage.upsert({ sessionId: "memory", memory: { a: "x" } });
    await storage.upsert({ sessionId: "user", userId: "ada" });
    await storage.upsert({ sessionId: "run" });
    await storage.appendRuns("run", [{ n: 1 }]);
    await storage.close();
    const client = createClient({ url: `file:${path}` });
    await client.batch([
      // {"a":"<0xff>"} and "ad<0xc3>": stored as TEXT, but not UTF-8.
      `UPDATE agent_sessions SET memory = CAST(x'7b2261223a22ff227d' AS TEXT) WHERE session_id = 'memory'`,
      `UPDATE agent_sessions SET user_id = CAST(x'6164c3' AS TEXT) WHERE session_id = 'user'`,
      `UPDATE agent_sessions_runs SET run = CAST(x'7b226e223a22fe227d' AS TEXT) WHERE session_id = 'run'`,
    ], "write");
    client.close();
    const [memory, user, list, run] = await readInSubprocess(path, ["read:memory", "read:user", "list", "runs:run"]);
    assert.equal(memory!.error, "CorruptRecordError", JSON.stringify(memory));
    assert.match(memory!.message!, /agent_sessions row "memory".*column memory is not valid UTF-8/);
    assert.equal(user!.error, "CorruptRecordError", JSON.stringify(user));
    assert.match(user!.message!, /agent_sessions row "user".*column user_id is not valid UTF-8/);
    assert.equal(list!.error, "CorruptRecordError", JSON.stringify(list));
    assert.equal(run!.error, "CorruptRecordError", JSON.stringify(run));
    assert.match(run!.message!, /agent_sessions_runs row "run" seq 1.*column run is not valid UTF-8/);
  } finally {
    await dir.remove();
  }
});

Deno.test("LibsqlStorage: a run row that is not a JSON object, or a gap in the seqs, is a CorruptRecordError naming the row", async () => {
  const client = createClient({ url: ":memory:" });
  try {
    await using storage = new LibsqlStorage({ client });
    await storage.upsert({ sessionId: "number" });
    await storage.appendRuns("number", [{ n: 1 }, { n: 2 }]);
    await client.execute("UPDATE agent_sessions_runs SET run = '7' WHERE session_id = 'number' AND seq = 2");
    const error = await storage.getRuns("number").catch((e) => e);
    assert.ok(error instanceof CorruptRecordError, String(error));
    assert.match(error.message, /agent_sessions_runs row "number" seq 2: a run is not a JSON object/);

    await storage.upsert({ sessionId: "gap" });
    await storage.appendRuns("gap", [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await client.execute("DELETE FROM agent_sessions_runs WHERE session_id = 'gap' AND seq = 2");
    for (const order of ["asc", "desc"] as const) {
      const gap = await storage.getRuns("gap", { order }).catch((e) => e);
      assert.ok(gap instanceof CorruptRecordError, `${order}: ${gap}`);
      assert.match(gap.message, /agent_sessions_runs row "gap" seq (3|1)/, order);
    }
    // The first run missing: a page from the start (ascending) or to the start (descending) sees it.
    await storage.upsert({ sessionId: "head" });
    await storage.appendRuns("head", [{ n: 1 }, { n: 2 }]);
    await client.execute("DELETE FROM agent_sessions_runs WHERE session_id = 'head' AND seq = 1");
    await assert.rejects(storage.getRuns("head"), CorruptRecordError);
    await assert.rejects(storage.getRuns("head", { order: "desc" }), CorruptRecordError);
    // Pages of one run through an intact log, both ways, see no gap.
    await storage.upsert({ sessionId: "intact" });
    await storage.appendRuns("intact", [{ n: 1 }, { n: 2 }, { n: 3 }]);
    for (const order of ["asc", "desc"] as const) {
      const seqs: number[] = [];
      let cursor: string | null = null;
      do {
        const page = await storage.getRuns("intact", { order, limit: 1, cursor });
        seqs.push(...page.runs.map((r) => r.seq));
        cursor = page.nextCursor;
      } while (cursor !== null);
      assert.deepEqual(seqs, order === "asc" ? [1, 2, 3] : [3, 2, 1]);
    }
  } finally {
    client.close();
  }
});

Deno.test("LibsqlStorage readOnly: a read-only WAL database on read-only media is readable; writes are refused clearly", async () => {
  const dir = await tempDir("libsql-readonly");
  try {
    const { path, restore } = await readOnlyBackup(dir.path);
    try {
      await using reader = new LibsqlStorage({ url: `file:${path}`, readOnly: true });
      assert.deepEqual((await reader.read("kept"))?.memory, { turns: 2 });
      assert.deepEqual((await reader.listSessions()).sessions.map((s) => s.sessionId), ["kept"]);
      assert.deepEqual((await reader.getRuns("kept")).runs.map((r) => r.run), [{ n: 1 }]);
      for (
        const write of [
          () => reader.upsert({ sessionId: "new" }),
          () => reader.deleteSession("kept"),
          () => reader.appendRuns("kept", [{ n: 2 }], { userId: "ada" }),
          () => reader.drop(),
        ]
      ) {
        await assert.rejects(
          write(),
          (e) => e instanceof StorageError && /read-only \(readOnly: true\)/.test(e.message),
        );
      }
      assert.deepEqual((await reader.read("kept"))?.version, 2);
    } finally {
      await restore();
    }
  } finally {
    await dir.remove();
  }
});

Deno.test("LibsqlStorage readOnly: the journal mode is left as it is, and a missing database is not created", async () => {
  const dir = await tempDir("libsql-readonly-mode");
  const path = `${dir.path}/rollback.db`;
  try {
    await using writer = new LibsqlStorage({ client: createClient({ url: `file:${path}` }) });
    await writer.upsert({ sessionId: "s" });
    const mode = async () => {
      const c = createClient({ url: `file:${path}` });
      const result = await c.execute("PRAGMA journal_mode");
      c.close();
      return result.rows[0]![0];
    };
    assert.equal(await mode(), "delete");
    await using reader = new LibsqlStorage({ url: `file:${path}`, readOnly: true });
    assert.equal((await reader.read("s"))?.version, 1);
    assert.equal(await mode(), "delete", "no switch to WAL");
    await using missing = new LibsqlStorage({ url: `file:${dir.path}/missing.db`, readOnly: true });
    await assert.rejects(missing.read("s"), StorageError);
    await assert.rejects(Deno.stat(`${dir.path}/missing.db`), Deno.errors.NotFound);
  } finally {
    await dir.remove();
  }
});

Deno.test("NativeExecutor keeps at most STATEMENT_CACHE_SIZE prepared statements and releases them on close", async () => {
  const executor = await openNative(":memory:", 1000);
  for (let i = 0; i < STATEMENT_CACHE_SIZE * 2; i++) {
    assert.deepEqual((await executor.query({ sql: `SELECT ${i} AS n`, args: [] })).rows, [{ n: i }]);
  }
  assert.equal(executor.cachedStatements, STATEMENT_CACHE_SIZE);
  await executor.query({ sql: "SELECT 0 AS n", args: [] }); // evicted long ago: prepared again, still bounded
  assert.equal(executor.cachedStatements, STATEMENT_CACHE_SIZE);
  await executor.close();
  assert.equal(executor.cachedStatements, 0);
  await assert.rejects(executor.query({ sql: "SELECT 1", args: [] }));
});
