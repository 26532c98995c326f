/**
 * `postgres` (porsager) vs `pg` (node-postgres) from Deno against a
 * throwaway PostgreSQL 15 cluster: a single-row guarded upsert and a keyset
 * page of 20 rows of ~2 KB JSON. Not wired into bench/main.ts; run it alone:
 * `deno run --allow-all bench/postgres_driver_bench.ts [--smoke]`.
 */
import pg from "pg";
import postgres from "postgres";
import { startPostgresServer } from "../tests/support/postgres_server.ts";
import { type AbResult, abTable, alternate, type Contender } from "./ab.ts";
import { payload } from "./harness.ts";

const SCHEMA = `
  create table bench_sessions (
    id text collate "C" primary key,
    user_id text collate "C" not null,
    version integer not null,
    memory jsonb not null,
    updated_at bigint not null
  );
  create index bench_sessions_user on bench_sessions (user_id, id);`;

/** Insert, or bump the version when the owner matches; the stamps come back. */
const UPSERT = `
  insert into bench_sessions (id, user_id, version, memory, updated_at) values ($1, $2, 1, $3::jsonb, $4)
  on conflict (id) do update set version = bench_sessions.version + 1, memory = excluded.memory,
    updated_at = excluded.updated_at
  where bench_sessions.user_id = excluded.user_id
  returning version, updated_at`;

/** The next 20 of one user's sessions after a cursor, in id order. */
const PAGE = `
  select id, user_id, version, memory, updated_at from bench_sessions
  where user_id = $1 and id > $2 order by id limit 20`;

const USERS = 4;
const ROWS = 2000;

/** Runs both drivers on both workloads; returns a Markdown section. */
export async function postgresDriverSection({ smoke }: { smoke: boolean }): Promise<string> {
  await using server = await startPostgresServer();
  const porsager = postgres(server.url, { max: 1, onnotice: () => {} });
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await porsager.unsafe(SCHEMA);
    const memory = JSON.stringify(payload(2, 1));
    for (let i = 0; i < ROWS; i += 200) {
      const ids = Array.from({ length: 200 }, (_, k) => `s${String(i + k).padStart(6, "0")}`);
      await client.query(
        `insert into bench_sessions select id, 'u' || (ord % ${USERS}), 1, $2::jsonb, 0
         from unnest($1::text[]) with ordinality as t(id, ord)`,
        [ids, memory],
      );
    }
    await client.query("analyze bench_sessions");

    const key = (i: number) => `s${String(Math.abs(i) % ROWS).padStart(6, "0")}`;
    const owner = (i: number) => `u${(Math.abs(i) % ROWS + 1) % USERS}`;
    const cursor = (i: number) => key(Math.abs(i) * 37 % (ROWS - 200));
    const checkPage = (rows: unknown[]) => {
      if (rows.length !== 20) throw new Error(`a page of ${rows.length} rows, expected 20`);
    };
    const checkUpsert = (rows: { length: number }) => {
      if (rows.length !== 1) throw new Error(`the upsert returned ${rows.length} rows, expected 1`);
    };
    const upserts: Contender[] = [
      {
        name: "postgres@3",
        op: async (i) =>
          checkUpsert(await porsager.unsafe(UPSERT, [key(i), owner(i), memory, Date.now()], { prepare: true })),
      },
      {
        name: "pg@8 (named prepared)",
        op: async (i) =>
          checkUpsert(
            (await client.query({ name: "upsert", text: UPSERT, values: [key(i), owner(i), memory, Date.now()] })).rows,
          ),
      },
      {
        name: "pg@8 (unnamed)",
        op: async (i) => checkUpsert((await client.query(UPSERT, [key(i), owner(i), memory, Date.now()])).rows),
      },
    ];
    const pages: Contender[] = [
      {
        name: "postgres@3",
        op: async (i) => checkPage(await porsager.unsafe(PAGE, [owner(i), cursor(i)], { prepare: true })),
      },
      {
        name: "pg@8 (named prepared)",
        op: async (i) =>
          checkPage((await client.query({ name: "page", text: PAGE, values: [owner(i), cursor(i)] })).rows),
      },
      {
        name: "pg@8 (unnamed)",
        op: async (i) => checkPage((await client.query(PAGE, [owner(i), cursor(i)])).rows),
      },
    ];
    const options = smoke ? { rounds: 2, perRound: 10, warmup: 5 } : { rounds: 20, perRound: 200, warmup: 200 };
    const results: [string, AbResult[]][] = [
      ["upsert (2 KB, ON CONFLICT … WHERE … RETURNING)", await alternate(upserts, options)],
      ["keyset page of 20 × 2 KB jsonb", await alternate(pages, options)],
    ];
    return `## PostgreSQL driver: postgres@3 vs pg@8 (from Deno)\n\n` +
      `One connection each to the same local PostgreSQL 15 (fsync off), ${ROWS} rows, rounds alternating the ` +
      `clients (${options.rounds} rounds × ${options.perRound} ops). CPU is the whole Deno process's user + system ` +
      `time per op (median over rounds); wall is the median op.\n\n${abTable(results)}\n`;
  } finally {
    await porsager.end();
    await client.end();
  }
}

if (import.meta.main) {
  console.log(await postgresDriverSection({ smoke: Deno.args.includes("--smoke") }));
}
