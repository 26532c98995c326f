/** The Hrana test server, driven by the real `@libsql/client` over HTTP and by hand-written pipeline requests. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Client, createClient as createNodeClient, LibsqlBatchError, LibsqlError } from "@libsql/client";
import { createClient as createWebClient } from "@libsql/client/web";
import { type HranaServer, type HranaServerOptions, startHranaServer } from "./support/hrana_server.ts";
import { tempDir } from "./support/temp.ts";

const token = "secret-token";

type ServerSettings = Omit<HranaServerOptions, "dbUrl" | "path">;

async function withServer(
  settings: ServerSettings,
  fn: (server: HranaServer, dbPath: string) => Promise<void>,
): Promise<void> {
  const dir = await tempDir("hrana");
  const dbPath = `${dir.path}/db.sqlite`;
  const server = await startHranaServer({ dbUrl: `file:${dbPath}`, ...settings });
  try {
    await fn(server, dbPath);
  } finally {
    await server.stop();
    await dir.remove();
  }
}

async function withClient(
  server: HranaServer,
  fn: (client: Client) => Promise<void>,
  create: typeof createNodeClient = createNodeClient,
): Promise<void> {
  const client = create({ url: server.url, authToken: server.token, intMode: "bigint" });
  try {
    await fn(client);
  } finally {
    client.close();
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await delay(ms);
  return !settled;
}

const bytes = (value: unknown) => [...new Uint8Array(value as ArrayBuffer)];

for (const [name, create] of [["@libsql/client", createNodeClient], ["@libsql/client/web", createWebClient]] as const) {
  Deno.test(`Hrana server: ${name} round-trips every value type over HTTP`, () =>
    withServer({ token }, (server) =>
      withClient(server, async (client) => {
        assert.equal(client.protocol, "http");
        await client.execute("CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, f REAL, t TEXT, b BLOB, x)");
        const big = 2n ** 62n + 1n; // beyond 2^53
        const text = "héllo wörld 😀 ✓";
        const blob = new Uint8Array([0, 1, 2, 254, 255]);
        const inserted = await client.execute({
          sql: "INSERT INTO v (i, f, t, b, x) VALUES (?, ?, ?, ?, ?)",
          args: [big, 1.5, text, blob, null],
        });
        assert.equal(inserted.rowsAffected, 1);
        assert.equal(inserted.lastInsertRowid, 1n);
        await client.execute({
          sql: "INSERT INTO v (i, f, t, b, x) VALUES (:i, $f, @t, :b, :x)",
          args: { i: -(2n ** 63n), f: -0.25, t: "", b: new Uint8Array([7]).buffer, x: 42n },
        });
        const rs = await client.execute(
          "SELECT id, i, f, t, b, x, typeof(i) AS ti, typeof(f) AS tf, typeof(t) AS tt, typeof(b) AS tb, typeof(x) AS tx FROM v ORDER BY id",
        );
        assert.deepEqual(rs.columns, ["id", "i", "f", "t", "b", "x", "ti", "tf", "tt", "tb", "tx"]);
        assert.deepEqual(rs.columnTypes.slice(0, 6), ["INTEGER", "INTEGER", "REAL", "TEXT", "BLOB", ""]);
        const [a, b] = rs.rows;
        assert.deepEqual([a!.id, a!.i, a!.f, a!.t, bytes(a!.b), a!.x], [1n, big, 1.5, text, [...blob], null]);
        assert.deepEqual([a!.ti, a!.tf, a!.tt, a!.tb, a!.tx], ["integer", "real", "text", "blob", "null"]);
        assert.deepEqual([b!.i, b!.f, b!.t, bytes(b!.b), b!.x], [-(2n ** 63n), -0.25, "", [7], 42n]);
        // A JavaScript number travels as a Hrana float, a bigint as an integer.
        const types = await client.execute({ sql: "SELECT typeof(?) AS n, typeof(?) AS g", args: [3, 3n] });
        assert.deepEqual([types.rows[0]!.n, types.rows[0]!.g], ["real", "integer"]);
        // Changes are reported for statements that return rows as well.
        const returned = await client.execute("UPDATE v SET x = 1 RETURNING id");
        assert.deepEqual([returned.rowsAffected, returned.rows.length], [2, 2]);
        const none = await client.execute("UPDATE v SET x = 1 WHERE id = 99 RETURNING id");
        assert.equal(none.rowsAffected, 0);
        // Text with U+0000 is stored whole; the engine returns it cut at the NUL (see hrana_server.ts).
        const nul = "before\u0000after ü";
        await client.execute({ sql: "UPDATE v SET t = ? WHERE id = 2", args: [nul] });
        const stored = (await client.execute("SELECT hex(t) AS h, t FROM v WHERE id = 2")).rows[0]!;
        assert.equal(stored.h, Buffer.from(nul).toString("hex").toUpperCase());
        assert.ok(nul.startsWith(stored.t as string));
        await assert.rejects(
          client.execute("SELECT * FROM missing"),
          (e) => e instanceof LibsqlError && e.code === "SQLITE_ERROR" && /no such table: missing/.test(e.message),
        );
        await assert.rejects(
          client.execute({ sql: "INSERT INTO v (id) VALUES (?)", args: [1n] }),
          (e) => e instanceof LibsqlError && e.code === "SQLITE_CONSTRAINT",
        );
      }, create)));
}

Deno.test("Hrana server: batch(…, 'write') is atomic, a failing statement rolls back the earlier ones", () =>
  withServer({ token }, (server) =>
    withClient(server, async (client) => {
      await client.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)");
      const results = await client.batch([
        { sql: "INSERT INTO t VALUES (?, ?)", args: ["a", 1n] },
        { sql: "INSERT INTO t VALUES (?, ?)", args: ["b", 2n] },
        "SELECT count(*) AS c FROM t",
      ], "write");
      assert.deepEqual(results.map((r) => r.rowsAffected), [1, 1, 0]);
      assert.equal(results[2]!.rows[0]!.c, 2n);
      await assert.rejects(
        client.batch([
          { sql: "INSERT INTO t VALUES (?, ?)", args: ["c", 3n] },
          { sql: "INSERT INTO t VALUES (?, ?)", args: ["a", 9n] }, // duplicate key
          { sql: "INSERT INTO t VALUES (?, ?)", args: ["d", 4n] },
        ], "write"),
        (e) => e instanceof LibsqlBatchError && e.statementIndex === 1 && e.code === "SQLITE_CONSTRAINT",
      );
      await assert.rejects(client.batch(["INSERT INTO t VALUES ('e', 5)", "INSERT INTO nope VALUES (1)"], "write"));
      const rows = await client.execute("SELECT k FROM t ORDER BY k");
      assert.deepEqual(rows.rows.map((r) => r.k), ["a", "b"]);
      // Nothing is left locked: a later write goes through at once.
      await client.execute("INSERT INTO t VALUES ('z', 26)");
    })));

Deno.test("Hrana server: interactive transactions commit and roll back across requests", () =>
  withServer({ token }, (server) =>
    withClient(server, async (client) => {
      await client.execute("CREATE TABLE t (n INTEGER)");
      const tx = await client.transaction("write");
      await tx.execute({ sql: "INSERT INTO t VALUES (?)", args: [1n] });
      await tx.execute({ sql: "INSERT INTO t VALUES (?)", args: [2n] });
      assert.equal((await tx.execute("SELECT count(*) AS c FROM t")).rows[0]!.c, 2n, "the transaction sees its rows");
      assert.equal((await client.execute("SELECT count(*) AS c FROM t")).rows[0]!.c, 0n, "others do not, yet");
      await tx.commit();
      assert.equal((await client.execute("SELECT count(*) AS c FROM t")).rows[0]!.c, 2n);

      const undone = await client.transaction("write");
      await undone.execute("INSERT INTO t VALUES (3)");
      await undone.execute("DELETE FROM t WHERE n = 1");
      await undone.rollback();
      assert.deepEqual((await client.execute("SELECT n FROM t ORDER BY n")).rows.map((r) => r.n), [1n, 2n]);

      // A failed statement leaves the transaction open and usable.
      const survivor = await client.transaction("deferred");
      await assert.rejects(survivor.execute("INSERT INTO nope VALUES (1)"));
      await survivor.execute("INSERT INTO t VALUES (4)");
      await survivor.commit();

      const read = await client.transaction("read");
      assert.equal((await read.execute("SELECT count(*) AS c FROM t")).rows[0]!.c, 3n);
      await read.commit();

      const multi = await client.transaction("write");
      await multi.executeMultiple("INSERT INTO t VALUES (5); INSERT INTO t VALUES (6);");
      await multi.rollback();
      await client.executeMultiple("CREATE TABLE u (x); INSERT INTO u VALUES (1); INSERT INTO u VALUES (2);");
      assert.deepEqual(
        (await client.execute("SELECT (SELECT count(*) FROM t) AS t, (SELECT count(*) FROM u) AS u")).rows[0]!.t,
        3n,
      );
      assert.equal((await client.execute("SELECT count(*) AS c FROM u")).rows[0]!.c, 2n);
    })));

Deno.test("Hrana server: a second write transaction waits for the first, or fails busy after busyTimeoutMs", async () => {
  await withServer({ token }, (server) =>
    withClient(server, async (client) => {
      await client.execute("CREATE TABLE t (n INTEGER)");
      const first = await client.transaction("write");
      await first.execute("INSERT INTO t VALUES (1)");
      const second = await client.transaction("write");
      const secondInsert = second.execute("INSERT INTO t VALUES (2)");
      assert.ok(await pendingAfter(secondInsert, 300), "the second transaction waits for the lock");
      // Reads are not blocked meanwhile (WAL), and do not see the pending row.
      assert.equal((await client.execute("SELECT count(*) AS c FROM t")).rows[0]!.c, 0n);
      await first.commit();
      await secondInsert;
      assert.equal((await second.execute("SELECT count(*) AS c FROM t")).rows[0]!.c, 2n);
      await second.commit();
      assert.deepEqual((await client.execute("SELECT n FROM t ORDER BY rowid")).rows.map((r) => r.n), [1n, 2n]);
    }));

  await withServer({ token, busyTimeoutMs: 100 }, (server) =>
    withClient(server, async (client) => {
      await client.execute("CREATE TABLE t (n INTEGER)");
      const first = await client.transaction("write");
      await first.execute("INSERT INTO t VALUES (1)");
      const started = Date.now();
      await assert.rejects(
        client.execute("INSERT INTO t VALUES (2)"),
        (e) => e instanceof LibsqlError && e.code === "SQLITE_BUSY",
      );
      assert.ok(Date.now() - started >= 90, "it retried until the busy timeout");
      const second = await client.transaction("write");
      await assert.rejects(
        second.execute("INSERT INTO t VALUES (3)"),
        (e) => (e as LibsqlError).code === "SQLITE_BUSY",
      );
      second.close();
      await first.commit();
      assert.equal((await client.execute("SELECT count(*) AS c FROM t")).rows[0]!.c, 1n);
    }));
});

Deno.test("Hrana server: a wrong or missing token is refused with 401", () =>
  withServer({ token }, async (server) => {
    for (const authToken of ["wrong", undefined]) {
      const client = createNodeClient({ url: server.url, authToken });
      try {
        await assert.rejects(client.execute("SELECT 1"), (e) => e instanceof LibsqlError && /401/.test(e.message));
      } finally {
        client.close();
      }
    }
    const dir = await tempDir("hrana-open");
    const open = await startHranaServer({ dbUrl: `file:${dir.path}/x.db` });
    try {
      assert.equal(open.token, undefined);
      await withClient(open, async (client) => {
        assert.equal((await client.execute("SELECT 1 AS one")).rows[0]!.one, 1n, "no token needed when none is set");
      });
    } finally {
      await open.stop();
      await dir.remove();
    }
  }));

Deno.test("Hrana server: requests counted: execute 1, batch 1, transaction of 2 statements + commit 3", () =>
  withServer({ token }, (server) =>
    withClient(server, async (client) => {
      // The very first request of a fresh client is its first statement: @libsql/client does not probe.
      await client.execute("CREATE TABLE t (n INTEGER)");
      assert.equal(server.requests, 1);
      const cost = async (work: () => Promise<unknown>) => {
        server.resetCounts();
        await work();
        return server.requests;
      };
      const counts = {
        execute: await cost(() => client.execute({ sql: "INSERT INTO t VALUES (?)", args: [1n] })),
        batch: await cost(() =>
          client.batch(["INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (2)", "SELECT 1"], "write")
        ),
        transaction: await cost(async () => {
          const tx = await client.transaction("write");
          await tx.execute("INSERT INTO t VALUES (3)");
          await tx.execute("SELECT count(*) FROM t");
          await tx.commit();
        }),
        rollback: await cost(async () => {
          const tx = await client.transaction("write");
          await tx.execute("INSERT INTO t VALUES (4)");
          await tx.rollback();
        }),
        executeMultiple: await cost(() => client.executeMultiple("SELECT 1; SELECT 2;")),
      };
      assert.deepEqual(counts, { execute: 1, batch: 1, transaction: 3, rollback: 2, executeMultiple: 1 });
    })));

// deno-lint-ignore no-explicit-any
type Json = any;

/** One pipeline request by hand. */
async function pipeline(
  server: HranaServer,
  baton: string | null,
  requests: unknown[],
  version = "v3",
): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${server.url}/${version}/pipeline`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.token}` },
    body: JSON.stringify({ baton, requests }),
  });
  return { status: response.status, body: await response.json() };
}

const stmt = (sql: string, extra: Record<string, unknown> = {}) => ({ type: "execute", stmt: { sql, ...extra } });

Deno.test("Hrana server: the pipeline protocol by hand (v3 JSON)", () =>
  withServer({ token }, async (server) => {
    for (const [path, status] of [["v2", 200], ["v3", 200], ["v3-protobuf", 404]] as const) {
      const response = await fetch(`${server.url}/${path}`);
      await response.body?.cancel();
      assert.equal(response.status, status, path);
    }

    let r = await pipeline(server, null, [
      stmt("CREATE TABLE t (k TEXT, n INTEGER)"),
      { type: "store_sql", sql_id: 7, sql: "INSERT INTO t VALUES (?, ?)" },
      {
        type: "execute",
        stmt: { sql_id: 7, args: [{ type: "text", value: "a" }, { type: "integer", value: "9007199254740993" }] },
      },
      stmt("SELECT k, n, 1.5 AS f, x'00ff' AS b, NULL AS z FROM t"),
      { type: "get_autocommit" },
      { type: "describe", sql: "SELECT 1" },
      { type: "bogus" },
    ]);
    assert.equal(r.status, 200);
    assert.equal(typeof r.body.baton, "string");
    assert.equal(r.body.base_url, null);
    const [create, store, insert, select, autocommit, describe, bogus] = r.body.results;
    assert.deepEqual([create.type, store.response, insert.response.result.affected_row_count], [
      "ok",
      { type: "store_sql" },
      1,
    ]);
    assert.equal(insert.response.result.last_insert_rowid, "1");
    assert.deepEqual(select.response.result.cols, [
      { name: "k", decltype: "TEXT" },
      { name: "n", decltype: "INTEGER" },
      { name: "f", decltype: null },
      { name: "b", decltype: null },
      { name: "z", decltype: null },
    ]);
    assert.deepEqual(select.response.result.rows, [[
      { type: "text", value: "a" },
      { type: "integer", value: "9007199254740993" },
      { type: "float", value: 1.5 },
      { type: "blob", base64: "AP8=" },
      { type: "null" },
    ]]);
    assert.deepEqual(autocommit.response, { type: "get_autocommit", is_autocommit: true });
    assert.equal(describe.type, "error");
    assert.equal(bogus.type, "error");
    const first = r.body.baton as string;

    // The stream continues with the new baton: stored SQL and an open transaction survive between requests.
    r = await pipeline(server, first, [
      stmt("BEGIN IMMEDIATE"),
      { type: "get_autocommit" },
      {
        type: "execute",
        stmt: { sql_id: 7, named_args: [], args: [{ type: "text", value: "b" }, { type: "float", value: 2 }] },
      },
    ]);
    assert.deepEqual(r.body.results.map((x: { type: string }) => x.type), ["ok", "ok", "ok"]);
    assert.equal(r.body.results[1].response.is_autocommit, false);
    assert.notEqual(r.body.baton, first, "every response carries a new baton");
    const reused = await pipeline(server, first, [{ type: "get_autocommit" }]);
    assert.equal(reused.status, 400, "a used baton is refused");
    assert.equal(reused.body.code, "STREAM_EXPIRED");

    // Batch conditions: ok, error, not, and, or, is_autocommit.
    r = await pipeline(server, r.body.baton, [{
      type: "batch",
      batch: {
        steps: [
          { stmt: { sql: "SELECT * FROM nope" } }, // 0: error
          { condition: { type: "error", step: 0 }, stmt: { sql: "SELECT 'ran after error' AS s" } }, // 1: runs
          { condition: { type: "ok", step: 0 }, stmt: { sql: "SELECT 'skipped'" } }, // 2: skipped
          { condition: { type: "not", cond: { type: "ok", step: 2 } }, stmt: { sql: "SELECT 3" } }, // 3: runs
          {
            condition: { type: "and", conds: [{ type: "ok", step: 1 }, { type: "ok", step: 2 }] },
            stmt: { sql: "SELECT 4" },
          }, // 4: skipped
          {
            condition: { type: "or", conds: [{ type: "ok", step: 2 }, { type: "ok", step: 3 }] },
            stmt: { sql: "SELECT :v AS v", named_args: [{ name: ":v", value: { type: "text", value: "named" } }] },
          }, // 5: runs
          { condition: { type: "is_autocommit" }, stmt: { sql: "SELECT 'autocommit'" } }, // 6: skipped, in a tx
          { condition: { type: "not", cond: { type: "is_autocommit" } }, stmt: { sql: "COMMIT" } }, // 7: runs
          { condition: { type: "is_autocommit" }, stmt: { sql: "SELECT count(*) FROM t" } }, // 8: runs
        ],
      },
    }]);
    const { step_results: results, step_errors: errors } = r.body.results[0].response.result;
    const ran = (list: unknown[]) => list.map((x) => x === null ? "-" : "x").join("");
    assert.equal(ran(results), "-x-x-x-xx");
    assert.equal(ran(errors), "x--------");
    assert.deepEqual(errors[0], { message: "no such table: nope", code: "SQLITE_ERROR" });
    assert.deepEqual(results[5].rows, [[{ type: "text", value: "named" }]]);
    assert.deepEqual(results[8].rows, [[{ type: "integer", value: "2" }]]);

    // A sequence, then close: later requests in the same pipeline fail and no baton comes back.
    r = await pipeline(server, r.body.baton, [
      { type: "sequence", sql: "INSERT INTO t VALUES ('c', 3); INSERT INTO t VALUES ('d', 4);" },
      { type: "close_sql", sql_id: 7 },
      { type: "execute", stmt: { sql_id: 7 } },
      { type: "close" },
      stmt("SELECT 1"),
    ]);
    assert.deepEqual(r.body.results.map((x: { type: string }) => x.type), ["ok", "ok", "error", "ok", "error"]);
    assert.equal(r.body.baton, null);

    // v2 works the same way; a fresh stream sees the committed rows.
    r = await pipeline(
      server,
      null,
      [stmt("SELECT count(*) AS c FROM t", { want_rows: true }), { type: "close" }],
      "v2",
    );
    assert.deepEqual(r.body.results[0].response.result.rows, [[{ type: "integer", value: "4" }]]);
    r = await pipeline(server, null, [stmt("SELECT 1", { want_rows: false }), { type: "close" }]);
    assert.deepEqual(r.body.results[0].response.result.rows, []);

    const unknown = await pipeline(server, "not-a-baton", [{ type: "get_autocommit" }]);
    assert.equal(unknown.status, 400);
    const unauthorized = await fetch(`${server.url}/v3/pipeline`, { method: "POST", body: "{}" });
    assert.equal(unauthorized.status, 401);
    await unauthorized.body?.cancel();
    const garbage = await fetch(`${server.url}/v2/pipeline`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: "not json",
    });
    assert.equal(garbage.status, 400);
    await garbage.body?.cancel();
  }));

Deno.test("Hrana server: an idle stream is closed and its transaction rolled back", () =>
  withServer({ token, idleTimeoutMs: 100, busyTimeoutMs: 0 }, async (server) => {
    let r = await pipeline(server, null, [stmt("CREATE TABLE t (n INTEGER)"), stmt("BEGIN IMMEDIATE")]);
    r = await pipeline(server, r.body.baton, [stmt("INSERT INTO t VALUES (1)")]);
    const locked = await pipeline(server, null, [stmt("INSERT INTO t VALUES (2)"), { type: "close" }]);
    assert.equal(locked.body.results[0].error.code, "SQLITE_BUSY", "the open transaction holds the write lock");
    await delay(300);
    const expired = await pipeline(server, r.body.baton, [stmt("COMMIT")]);
    assert.equal(expired.status, 400);
    const after = await pipeline(server, null, [
      stmt("INSERT INTO t VALUES (3)"),
      stmt("SELECT n FROM t"),
      { type: "close" },
    ]);
    assert.deepEqual(after.body.results[1].response.result.rows, [[{ type: "integer", value: "3" }]]);
  }));

Deno.test("Hrana server: ':memory:' is a private temporary database shared by the server's streams", async () => {
  const server = await startHranaServer({ dbUrl: ":memory:" });
  try {
    await withClient(server, async (client) => {
      await client.execute("CREATE TABLE t (n INTEGER)");
      const tx = await client.transaction("write");
      await tx.execute("INSERT INTO t VALUES (1)");
      await tx.commit();
      assert.equal((await client.execute("SELECT count(*) AS c FROM t")).rows[0]!.c, 1n);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("Hrana server: the older { path } option still opens a file", () =>
  withServer({}, async (_server, dbPath) => {
    const server = await startHranaServer({ path: dbPath });
    try {
      await withClient(server, async (client) => {
        await client.execute("CREATE TABLE t (n INTEGER)");
      });
      assert.ok((await Deno.stat(dbPath)).size > 0 || (await Deno.stat(`${dbPath}-wal`)).size > 0);
    } finally {
      await server.stop();
    }
  }));

Deno.test("Hrana server: lock conflicts: a fresh deferred write waits, a busy mid-transaction write only allows rollback", () =>
  withServer({ token, busyTimeoutMs: 150 }, async (server) => {
    const codes = (r: { body: Json }) => r.body.results.map((x: Json) => x.type === "ok" ? "ok" : x.error.code);
    let a = await pipeline(server, null, [stmt("CREATE TABLE t (n INTEGER)"), stmt("BEGIN IMMEDIATE")]);
    a = await pipeline(server, a.body.baton, [stmt("INSERT INTO t VALUES (1)")]);

    // First statement of a deferred transaction: waits, then fails busy but leaves the transaction usable.
    let b = await pipeline(server, null, [stmt("BEGIN DEFERRED"), stmt("INSERT INTO t VALUES (2)")]);
    assert.deepEqual(codes(b), ["ok", "SQLITE_BUSY"]);
    a = await pipeline(server, a.body.baton, [stmt("COMMIT")]);
    b = await pipeline(server, b.body.baton, [stmt("INSERT INTO t VALUES (2)"), stmt("COMMIT")]);
    assert.deepEqual(codes(b), ["ok", "ok"]);

    // A transaction that has read, then finds the lock taken, can only roll back.
    b = await pipeline(server, b.body.baton, [stmt("BEGIN"), stmt("SELECT count(*) FROM t")]);
    a = await pipeline(server, a.body.baton, [stmt("BEGIN IMMEDIATE"), stmt("INSERT INTO t VALUES (3)")]);
    b = await pipeline(server, b.body.baton, [
      stmt("INSERT INTO t VALUES (4)"),
      stmt("SELECT 1"),
      { type: "get_autocommit" },
      stmt("COMMIT"),
      stmt("ROLLBACK"),
      { type: "get_autocommit" },
    ]);
    assert.deepEqual(codes(b), ["SQLITE_BUSY", "SQLITE_BUSY", "ok", "SQLITE_BUSY", "ok", "ok"]);
    assert.deepEqual([b.body.results[2].response.is_autocommit, b.body.results[5].response.is_autocommit], [
      false,
      true,
    ]);
    a = await pipeline(server, a.body.baton, [stmt("COMMIT"), { type: "close" }]);
    b = await pipeline(server, b.body.baton, [
      stmt("INSERT INTO t VALUES (5)"),
      stmt("SELECT n FROM t ORDER BY n"),
      { type: "close" },
    ]);
    assert.deepEqual(b.body.results[1].response.result.rows.flat().map((v: Json) => v.value), ["1", "2", "3", "5"]);
  }));

Deno.test("Hrana server: a write blocked by another process is retried on a new connection until the lock is free", () =>
  withServer({ token }, (server, dbPath) =>
    withClient(server, async (client) => {
      await client.execute("CREATE TABLE t (n INTEGER)");
      const outside = createNodeClient({ url: `file:${dbPath}` });
      try {
        const tx = await outside.transaction("write");
        await tx.execute("INSERT INTO t VALUES (1)");
        const insert = client.execute("INSERT INTO t VALUES (2)");
        const begin = client.transaction("write").then(async (t) => {
          await t.execute("INSERT INTO t VALUES (3)");
          await t.commit();
        });
        // First write of a deferred transaction: retried on a new connection, in a new transaction.
        const deferred = client.batch(["INSERT INTO t VALUES (4) RETURNING n"], "deferred");
        assert.ok(await pendingAfter(insert, 200), "the write waits");
        await tx.commit();
        await insert;
        await begin;
        const [returned] = await deferred;
        assert.deepEqual([returned!.rowsAffected, returned!.rows[0]!.n], [1, 4n]);
        assert.deepEqual((await client.execute("SELECT n FROM t ORDER BY n")).rows.map((r) => r.n), [1n, 2n, 3n, 4n]);
      } finally {
        outside.close();
      }
    })));

Deno.test("Hrana server: concurrent write transactions and batches all complete, one at a time", () =>
  withServer({ token }, (server) =>
    withClient(server, async (client) => {
      await client.execute("CREATE TABLE counter (n INTEGER)");
      await client.execute("INSERT INTO counter VALUES (0)");
      const increments = Array.from({ length: 8 }, async () => {
        const tx = await client.transaction("write");
        const n = (await tx.execute("SELECT n FROM counter")).rows[0]!.n as bigint;
        await delay(5);
        await tx.execute({ sql: "UPDATE counter SET n = ?", args: [n + 1n] });
        await tx.commit();
      });
      const batches = Array.from(
        { length: 8 },
        () => client.batch(["UPDATE counter SET n = n + 100", "UPDATE counter SET n = n + 1000"], "write"),
      );
      const deferred = Array.from({ length: 4 }, () => client.batch(["UPDATE counter SET n = n + 10000"], "deferred"));
      await Promise.all([...increments, ...batches, ...deferred]);
      assert.equal((await client.execute("SELECT n FROM counter")).rows[0]!.n, 8n + 8n * 1100n + 4n * 10000n);
    })));
