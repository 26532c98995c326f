/**
 * The throwaway PostgreSQL cluster (tests/support/postgres_server.ts): it
 * starts, the chosen driver (`pg`) runs a query over the password-
 * protected URL, a wrong password is refused, stop/start keep the data, and
 * disposing leaves no process and no directory behind.
 */
import assert from "node:assert/strict";
import pg from "pg";
import { skipWithoutPostgres, startPostgresServer } from "./support/postgres_server.ts";

const ignore = await skipWithoutPostgres("PostgreSQL server tests");

/** The postmaster's pid, from the first line of `postmaster.pid`. */
async function postmasterPid(dir: string): Promise<number> {
  const text = await Deno.readTextFile(`${dir}/data/postmaster.pid`);
  const pid = Number(text.split("\n")[0]);
  assert.ok(Number.isInteger(pid) && pid > 0, `bad postmaster.pid: ${text}`);
  return pid;
}

/** Whether process `pid` is running (a zombie is not). */
async function alive(pid: number): Promise<boolean> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => undefined);
  return status !== undefined && !/^State:\s+Z/m.test(status);
}

/** A pg pool of one connection to `url`; errors of idle connections are left to the queries. */
function pool(url: string): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 5000 });
  p.on("error", () => {});
  return p;
}

Deno.test({ name: "postgres server: starts, answers the driver, cleans up on dispose", ignore }, async () => {
  let dir: string;
  let pid: number;
  {
    await using server = await startPostgresServer();
    dir = server.dir;
    pid = await postmasterPid(dir);
    assert.ok(await alive(pid));
    assert.match(server.url, /^postgres:\/\/agentstate:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    const db = pool(server.url);
    try {
      const { rows } = await db.query("select 41 + 1 as n, current_setting('server_version') as version");
      assert.equal(rows[0].n, 42);
      assert.match(rows[0].version, /^\d+\.\d+/);
      const settings = await db.query("select current_setting('fsync') as fsync, current_setting('port') as port");
      assert.deepEqual(settings.rows[0], { fsync: "off", port: String(server.port) });
    } finally {
      await db.end();
    }
  }
  assert.equal(await alive(pid), false, "the postmaster is still running after dispose");
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test({ name: "postgres server: a wrong password is an authentication error", ignore }, async () => {
  await using server = await startPostgresServer();
  const url = new URL(server.url);
  url.password = "not-the-password";
  const db = pool(url.href);
  try {
    await assert.rejects(db.query("select 1"), (error: Error & { code?: string }) => {
      assert.equal(error.code, "28P01", `expected invalid_password, got ${error.code}: ${error.message}`);
      return true;
    });
  } finally {
    await db.end();
  }
});

Deno.test({ name: "postgres server: stop refuses connections, start brings back the data", ignore }, async () => {
  await using server = await startPostgresServer();
  const db = pool(server.url);
  try {
    await db.query("create table kept (v text)");
    await db.query("insert into kept values ('still here')");
    await server.stop();
    await assert.rejects(db.query("select 1"), (error: Error & { code?: string }) => {
      assert.equal(error.code, "ECONNREFUSED", `${error.code}: ${error.message}`);
      return true;
    });
    await server.start();
    assert.deepEqual((await db.query("select v from kept")).rows, [{ v: "still here" }]);
  } finally {
    await db.end();
  }
});
