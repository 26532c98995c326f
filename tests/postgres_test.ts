import assert from "node:assert/strict";
import pg from "pg";
import { LibsqlStorage } from "../backends/libsql.ts";
import { openStorage } from "../backends/open.ts";
import { POSTGRES_SCHEMA_VERSION, PostgresStorage } from "../backends/postgres.ts";
import { StorageError, ValidationError } from "../session/errors.ts";
import { compareIds } from "../session/list.ts";
import type { JsonObject } from "../session/types.ts";
import { HOSTILE_IDS, runConformance } from "./conformance/mod.ts";
import { postgresBackend, postgresServer } from "./support/backends.ts";
import { ok } from "./support/cli.ts";
import { skipWithoutPostgres, startPostgresServer } from "./support/postgres_server.ts";
import { tempDir } from "./support/temp.ts";

const ignore = await skipWithoutPostgres("PostgreSQL tests");

runConformance(postgresBackend(), { ignore });

let schemas = 0;
/** A fresh schema name per test. */
const freshSchema = () => `t${Date.now().toString(36)}_${schemas++}`;

/** A storage on the shared cluster in a fresh schema. */
async function fresh(options: Partial<ConstructorParameters<typeof PostgresStorage>[0]> = {}) {
  return new PostgresStorage({ url: (await postgresServer()).url, schema: freshSchema(), ...options });
}

/** Runs `work` with a plain `pg` client on the shared cluster. */
async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: (await postgresServer()).url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `postgres: ${name}`, ignore, sanitizeResources: false, sanitizeOps: false, fn });

test("ids order by code point in listings, whatever their UTF-16 order", async () => {
  // U+FFFF sorts after U+1F600 in UTF-16 code units, before it by code point.
  const ids = [...HOSTILE_IDS, "\uffff", "😀", "Z", "a", "é"];
  await using s = await fresh({ clock: () => 1000 });
  for (const id of ids) await s.upsert({ sessionId: id, userId: "ada" });
  const listed: string[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof s.listSessions>> = await s.listSessions({
      userId: "ada",
      order: "asc",
      limit: 5,
      ...(cursor ? { cursor } : {}),
    });
    listed.push(...page.sessions.map((x) => x.sessionId));
    cursor = page.nextCursor;
  } while (cursor !== null);
  assert.deepEqual(listed, [...ids].sort(compareIds));
  assert.ok(listed.indexOf("\uffff") < listed.indexOf("😀"));
});

test("concurrent creators in one fresh schema apply the migrations once, without errors", async () => {
  const schema = freshSchema();
  const url = (await postgresServer()).url;
  const storages = Array.from(
    { length: 8 },
    (_, i) => new PostgresStorage({ url, schema, mode: i % 2 ? "team" : "agent", poolSize: 2 }),
  );
  try {
    await Promise.all(storages.map((s) => s.create()));
    for (const s of storages) assert.equal(await s.schemaVersion(), POSTGRES_SCHEMA_VERSION);
    const rows = await withClient((c) =>
      c.query(`SELECT table_name, version FROM "${schema}".agentstate_schema ORDER BY table_name`)
    );
    assert.deepEqual(rows.rows, [
      { table_name: "agent_sessions", version: 1 },
      { table_name: "team_sessions", version: 1 },
    ]);
  } finally {
    for (const s of storages) await s.close();
  }
});

test("schemaVersion is 0 before create() and the layout version after", async () => {
  await using s = await fresh();
  assert.equal(await s.schemaVersion(), 0);
  await s.create();
  assert.equal(await s.schemaVersion(), POSTGRES_SCHEMA_VERSION);
});

test("the run log goes with its session (ON DELETE CASCADE) and keys are unique per session", async () => {
  await using s = await fresh();
  await s.upsert({ sessionId: "a", userId: "ada" });
  await s.appendRuns("a", [{ n: 1 }, { n: 2 }], { userId: "ada" });
  const runs = `"${s.schema}"."agent_sessions_runs"`;
  await withClient(async (c) => {
    assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${runs}`)).rows[0].n, 2);
    const fk = await c.query(
      `SELECT confdeltype FROM pg_constraint WHERE conrelid = '${runs}'::regclass AND contype = 'f'`,
    );
    assert.deepEqual(fk.rows, [{ confdeltype: "c" }]);
    const unique = await c.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2`, [
      s.schema,
      "agent_sessions_runs_key",
    ]);
    assert.match(unique.rows[0].indexdef, /UNIQUE INDEX .* \(session_id, key\) WHERE \(key IS NOT NULL\)/);
  });
  assert.equal(await s.deleteSession("a"), true);
  await withClient(async (c) => {
    assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${runs}`)).rows[0].n, 0);
  });
});

test("every listing path is served by an index, without a sort", async () => {
  await using s = await fresh({ clock: () => 1_000 });
  for (let chunk = 0; chunk < 10; chunk++) {
    await s.upsertMany(Array.from({ length: 300 }, (_, i) => ({
      sessionId: `s${chunk}-${i}`,
      userId: `u${i % 5}`,
      agentId: `a${i % 4}`,
    })));
  }
  await withClient((c) => c.query(`ANALYZE "${s.schema}".agent_sessions`));
  for (
    const options of [
      {},
      { sortBy: "updatedAt" as const },
      { userId: "u1" },
      { userId: "u1", sortBy: "updatedAt" as const, order: "asc" as const },
      { entityId: "a1" },
      { entityId: "a1", sortBy: "updatedAt" as const },
    ]
  ) {
    const plan = await s.explainList({ ...options, limit: 20 });
    assert.ok(plan.some((line) => /Index Scan/.test(line)), `${JSON.stringify(options)}: ${plan.join("\n")}`);
    assert.ok(!plan.some((line) => /\bSort\b/.test(line)), `${JSON.stringify(options)}: ${plan.join("\n")}`);
  }
});

test("4 processes x 50 read-increment-write cycles with expectedVersion: counter = version = 200", async () => {
  const schema = freshSchema();
  const url = (await postgresServer()).url;
  // Made before the writers start, so that the processes race on the session, not on the migrations.
  {
    await using made = await fresh({ schema });
    await made.create();
  }
  const worker = new URL("./support/postgres_worker.ts", import.meta.url).pathname;
  const results = await Promise.all(Array.from({ length: 4 }, async () => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", worker, "increment", url, schema, "50"],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    return JSON.parse(new TextDecoder().decode(stdout)) as { writes: number; conflicts: number };
  }));
  assert.deepEqual(results.map((r) => r.writes), [50, 50, 50, 50]);
  await using s = await fresh({ schema });
  const final = (await s.read("counter"))!;
  assert.deepEqual([final.memory!.count, final.version], [200, 200]);
  console.log(`postgres multi-process: 200 writes, ${results.reduce((n, r) => n + r.conflicts, 0)} conflicts retried`);
});

test("a connection killed mid-transaction leaves the previous versions and reports a StorageError", async () => {
  await using s = await fresh();
  await s.upsertMany([{ sessionId: "a", sessionData: { v: 1 } }, { sessionId: "b", sessionData: { v: 1 } }]);
  const table = `"${s.schema}".agent_sessions`;
  await withClient(async (locker) => {
    await locker.query("BEGIN");
    await locker.query(`SELECT 1 FROM ${table} WHERE session_id = convert_to('b', 'UTF8') FOR UPDATE`);
    // The batch updates "a", then waits for "b"'s lock: its connection is killed there.
    const write = s.upsertMany([{ sessionId: "a", sessionData: { v: 2 } }, { sessionId: "b", sessionData: { v: 2 } }]);
    const outcome = write.then(() => null, (error) => error);
    await withClient(async (killer) => {
      for (let tries = 0;; tries++) {
        const waiting = await killer.query(
          `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%'`,
        );
        if (waiting.rows.length > 0) {
          await killer.query("SELECT pg_terminate_backend($1)", [waiting.rows[0].pid]);
          break;
        }
        assert.ok(tries < 200, "the batch never waited for the lock");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    const error = await outcome;
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.backend, "postgres");
    await locker.query("ROLLBACK");
  });
  assert.deepEqual((await s.read("a"))?.sessionData, { v: 1 });
  assert.deepEqual((await s.read("b"))?.sessionData, { v: 1 });
  // The pool replaced the killed connection.
  assert.equal((await s.upsert({ sessionId: "a", sessionData: { v: 3 } })).version, 2);
});

test("statementTimeoutMs cancels a statement waiting too long, as a StorageError", async () => {
  await using s = await fresh({ statementTimeoutMs: 200 });
  await s.upsert({ sessionId: "a" });
  await withClient(async (locker) => {
    await locker.query("BEGIN");
    await locker.query(`SELECT 1 FROM "${s.schema}".agent_sessions FOR UPDATE`);
    const started = Date.now();
    await assert.rejects(s.upsert({ sessionId: "a", sessionData: { x: 1 } }), (error) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, /^postgres: .*statement timeout/);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    await locker.query("ROLLBACK");
  });
});

test("close() ends the pool it made, and leaves a caller's pool open", async () => {
  const url = (await postgresServer()).url;
  const schema = freshSchema();
  const connections = () =>
    withClient(async (c) =>
      (await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [schema]))
        .rows[0].n as number
    );
  const named = `${url}?application_name=${schema}`;
  const owned = new PostgresStorage({ url: named, schema });
  await owned.upsert({ sessionId: "a" });
  assert.ok(await connections() >= 1);
  await owned.close();
  assert.equal(await connections(), 0);

  const pool = new pg.Pool({ connectionString: named });
  try {
    const borrowed = new PostgresStorage({ pool, schema });
    assert.equal((await borrowed.read("a"))?.sessionId, "a");
    await borrowed.close();
    assert.equal((await pool.query("SELECT 1 AS one")).rows[0].one, 1);
  } finally {
    await pool.end();
  }
});

test("a stopped server is a StorageError naming the backend; after a restart the storage works again", async () => {
  await using server = await startPostgresServer();
  await using s = new PostgresStorage({ url: server.url, connectTimeoutMs: 2000 });
  await s.upsert({ sessionId: "kept", memory: { n: 1 } });
  await server.stop();
  for (const attempt of [() => s.read("kept"), () => s.listSessions(), () => s.upsert({ sessionId: "x" })]) {
    await assert.rejects(attempt(), (error) => {
      assert.ok(error instanceof StorageError, String(error));
      assert.equal(error.backend, "postgres");
      assert.match(error.message, /^postgres: /);
      return true;
    });
  }
  await server.start();
  assert.deepEqual((await s.read("kept"))?.memory, { n: 1 });
  assert.equal((await s.upsert({ sessionId: "kept", memory: { n: 2 } })).version, 2);
});

test("a wrong password is a StorageError whose messages hold neither the password nor session content", async () => {
  const server = await postgresServer();
  const wrong = "not-the-password-" + crypto.randomUUID();
  const url = `postgres://${server.user}:${wrong}@127.0.0.1:${server.port}/${server.database}`;
  await using s = new PostgresStorage({ url });
  const secret = "secret-content-" + crypto.randomUUID();
  await assert.rejects(s.upsert({ sessionId: "a", memory: { secret } }), (error) => {
    assert.ok(error instanceof StorageError);
    assert.equal(error.backend, "postgres");
    assert.match(error.message, /password authentication failed/);
    for (let e: unknown = error; e instanceof Error; e = e.cause) {
      for (const text of [e.message, e.stack ?? "", JSON.stringify(e)]) {
        assert.ok(!text.includes(wrong) && !text.includes(server.password) && !text.includes(secret), text);
      }
    }
    return true;
  });
});

test("openStorage opens postgres:// and postgresql:// URLs; bad options are ValidationErrors", async () => {
  const url = (await postgresServer()).url;
  for (const scheme of ["postgres", "postgresql"]) {
    await using s = await openStorage(url.replace(/^postgres/, scheme), { mode: "agent" });
    assert.ok(s instanceof PostgresStorage);
    await s.upsert({ sessionId: scheme });
    assert.equal((await s.read(scheme))?.sessionId, scheme);
  }
  assert.throws(() => new PostgresStorage({ url, schema: "bad-name" }), ValidationError);
  assert.throws(() => new PostgresStorage({ url, poolSize: 0 }), ValidationError);
  assert.throws(() => new PostgresStorage({}), ValidationError);
});

test("CLI: copy 10 000 sessions libSQL → PostgreSQL → JSON; all three export the same sessions and runs", async () => {
  const server = await postgresServer();
  // 10 000 JSON files written and fsynced one by one: in memory, the copy takes seconds instead of a minute.
  const dir = await tempDir("pg-copy", { inMemory: true });
  const schema = freshSchema();
  try {
    await using source = new LibsqlStorage({ url: `file:${dir.path}/big.db` });
    for (let i = 0; i < 10_000; i += 1000) {
      await source.importSessions(Array.from({ length: 1000 }, (_, k) => ({
        session: {
          sessionId: `s${i + k}/é\u0000`,
          userId: `u${(i + k) % 10}`,
          sessionName: (i + k) % 3 === 0 ? `name ${i + k}` : null,
          agentId: "a",
          teamSessionId: null,
          memory: { n: i + k },
          sessionData: null,
          extraData: null,
          agentData: null,
          createdAt: 1_000 + i + k,
          updatedAt: 50_000 + i + k,
          version: 1 + ((i + k) % 4),
        },
        runs: (i + k) % 7 === 0
          ? [{ seq: 1, key: `k${i + k}`, digest: "d", createdAt: 9, run: { q: "hi" } as JsonObject }, {
            seq: 2,
            key: null,
            digest: null,
            createdAt: 10,
            run: { a: "yo" } as JsonObject,
          }]
          : [],
      })));
    }
    // The CLI has no schema flag: the copy goes to a database of its own.
    await withClient((c) => c.query(`CREATE DATABASE ${schema}`));
    const target = `postgres://${server.user}:${
      encodeURIComponent(server.password)
    }@127.0.0.1:${server.port}/${schema}`;
    const started = performance.now();
    assert.match((await ok(dir.path, "copy", "file:big.db", target, "-q")).stdout, /copied 10000, skipped 0/);
    const toPostgres = performance.now() - started;
    assert.match((await ok(dir.path, "copy", target, "json:out", "-q")).stdout, /copied 10000, skipped 0/);
    const toJson = performance.now() - started - toPostgres;
    // Every session and run, compared through the CLI's own export (createdAt order, one line per session).
    const exported = async (url: string, name: string) => {
      await ok(dir.path, "export", url, "--out", name);
      const [header, ...lines] = (await Deno.readTextFile(`${dir.path}/${name}`)).trimEnd().split("\n");
      return { header: JSON.parse(header!), lines };
    };
    const [fromLibsql, fromPostgres, fromJson] = [
      await exported("file:big.db", "libsql.ndjson"),
      await exported(target, "postgres.ndjson"),
      await exported("json:out", "json.ndjson"),
    ];
    const exports = performance.now() - started - toPostgres - toJson;
    assert.equal(fromLibsql.lines.length, 10_000);
    assert.equal(fromLibsql.header.mode, "agent");
    assert.deepEqual(fromPostgres.header, fromLibsql.header);
    assert.deepEqual(fromJson.header, fromLibsql.header);
    for (const other of [fromPostgres, fromJson]) {
      const differing = other.lines.findIndex((line, i) => line !== fromLibsql.lines[i]);
      assert.equal(differing, -1, `line ${differing}: ${other.lines[differing]} vs ${fromLibsql.lines[differing]}`);
      assert.equal(other.lines.length, fromLibsql.lines.length);
    }
    // And through the storages: a session with runs, a run by key, the first page in id order.
    await using json = await openStorage(`json:${dir.path}/out`);
    await using middle = new PostgresStorage({ url: target });
    for (const id of ["s0/é\u0000", "s7/é\u0000", "s9999/é\u0000"]) {
      const original = await source.read(id);
      assert.ok(original);
      assert.deepEqual(await middle.read(id), original);
      assert.deepEqual(await json.read(id), original);
      assert.deepEqual(await json.getRuns(id), await source.getRuns(id));
    }
    assert.equal((await json.getRun("s7/é\u0000", "k7"))?.run.q, "hi");
    const all = async (s: { listSessions(o: object): Promise<{ sessions: { sessionId: string }[] }> }) =>
      (await s.listSessions({ order: "asc", limit: 100 })).sessions.map((x) => x.sessionId);
    assert.deepEqual(await all(json), await all(source));
    console.log(
      `CLI copy of 10 000 sessions: libSQL → PostgreSQL ${Math.round(toPostgres)} ms, ` +
        `PostgreSQL → JSON ${Math.round(toJson)} ms; three exports ${Math.round(exports)} ms`,
    );
  } finally {
    await dir.remove();
  }
});

test("a role with table rights only (no CREATE) uses a layout made for it", async () => {
  const server = await postgresServer();
  const schema = freshSchema();
  const role = `app_${schema}`;
  {
    await using owner = new PostgresStorage({ url: server.url, schema });
    await owner.create();
  }
  await withClient(async (c) => {
    await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app-password'`);
    await c.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
    await c.query(`REVOKE CREATE ON DATABASE ${server.database} FROM PUBLIC`);
  });
  const url = `postgres://${role}:app-password@127.0.0.1:${server.port}/${server.database}`;
  await using app = new PostgresStorage({ url, schema });
  await app.upsert({ sessionId: "a", userId: "ada" });
  assert.deepEqual(await app.appendRuns("a", [{ n: 1 }], { userId: "ada" }), { version: 2, runCount: 1 });
  assert.equal(await app.deleteSession("a"), true);
  // Without the rights, creating a new table is refused as a StorageError, not half done.
  await using other = new PostgresStorage({ url, schema, table: "other_sessions" });
  await assert.rejects(
    other.upsert({ sessionId: "b" }),
    (e) => e instanceof StorageError && /permission denied/.test(e.message),
  );
});
