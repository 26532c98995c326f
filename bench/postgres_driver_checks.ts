/**
 * What each PostgreSQL driver does in the cases the PostgreSQL backend
 * depends on, run for real from Deno against a throwaway cluster: its
 * connection terminated inside a transaction (`pg_terminate_backend`), a
 * statement timeout, the server stopped and restarted under one pool.
 * Run it alone: `deno run --allow-all bench/postgres_driver_checks.ts`.
 */
import pg from "pg";
import postgres from "postgres";
import { startPostgresServer } from "../tests/support/postgres_server.ts";
import { table } from "./harness.ts";

/** The few calls every check needs, over one driver's pool. */
interface Probe {
  query(text: string, values?: unknown[]): Promise<unknown[]>;
  /** Runs `work` in a transaction on one connection; `pid` is that connection's backend pid. */
  transaction(work: (query: (text: string) => Promise<unknown[]>, pid: number) => Promise<void>): Promise<void>;
  end(): Promise<void>;
}

const DRIVERS: Record<string, (url: string) => Probe> = {
  "postgres@3": (url) => {
    const sql = postgres(url, {
      max: 2,
      connect_timeout: 3,
      onnotice: () => {},
      connection: { statement_timeout: 300 },
    });
    return {
      query: async (text, values) => [...await sql.unsafe(text, values as string[])],
      transaction: async (work) => {
        await sql.begin(async (tx) => {
          const [row] = await tx.unsafe("select pg_backend_pid() as pid");
          await work(async (text) => [...await tx.unsafe(text)], Number(row!.pid));
        });
      },
      end: () => sql.end({ timeout: 1 }),
    };
  },
  "pg@8": (url) => {
    const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 3000, statement_timeout: 300 });
    pool.on("error", () => {});
    return {
      query: async (text, values) => (await pool.query(text, values)).rows,
      transaction: async (work) => {
        const client = await pool.connect();
        client.on("error", () => {});
        let broken: Error | undefined;
        try {
          await client.query("begin");
          const { rows } = await client.query("select pg_backend_pid() as pid");
          await work(async (text) => (await client.query(text)).rows, Number(rows[0].pid));
          await client.query("commit");
        } catch (error) {
          broken = error as Error;
          await client.query("rollback").catch(() => {});
          throw error;
        } finally {
          client.release(broken);
        }
      },
      end: () => pool.end(),
    };
  },
};

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    (value) => `ok: ${JSON.stringify(value)}`,
    (error) => `error${error?.code ? ` ${error.code}` : ""}: ${String(error?.message ?? error).slice(0, 80)}`,
  );

/** Runs every check on both drivers; returns a Markdown table. */
export async function postgresDriverChecks(): Promise<string> {
  await using server = await startPostgresServer();
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  const rows: string[][] = [];
  try {
    for (const [name, open] of Object.entries(DRIVERS)) {
      const table = `t_${name.replace(/\W/g, "_")}`;
      await admin.unsafe(`create table ${table} (id int primary key, v int not null)`);
      await admin.unsafe(`insert into ${table} values (1, 1)`);
      const driver = open(server.url);

      const killed = await outcome(driver.transaction(async (query, pid) => {
        await query(`update ${table} set v = 2 where id = 1`);
        await admin`select pg_terminate_backend(${pid})`;
        await query(`update ${table} set v = 3 where id = 1`);
      }));
      const [kept] = await admin.unsafe(`select v from ${table} where id = 1`);
      const nextQuery = await outcome(driver.query("select 1 as one"));

      const timeout = await outcome(driver.query("select pg_sleep(2)"));

      await server.stop();
      const down = await outcome(driver.query("select 1 as one"));
      await server.start();
      const back = await outcome(driver.query("select 1 as one"));
      await driver.end();
      rows.push([name, `${killed}; row kept v=${kept!.v}; next query ${nextQuery}`, timeout, down, back]);
    }
  } finally {
    await admin.end({ timeout: 1 });
  }
  return table(
    ["driver", "connection terminated mid-transaction", "statement_timeout 300 ms", "server stopped", "restarted"],
    rows,
  );
}

if (import.meta.main) console.log(await postgresDriverChecks());
