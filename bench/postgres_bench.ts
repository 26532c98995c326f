/**
 * PostgresStorage against LibsqlStorage on a file: the client CPU and the
 * wall time of an upsert, a point read and a page of 20, same payload and
 * same stored sessions, rounds alternating the two (bench/ab.ts). The
 * PostgreSQL server is a throwaway local cluster (fsync off), started here.
 *
 * Run: `deno run -A bench/postgres_bench.ts [--smoke]`.
 */
import { LibsqlStorage } from "../backends/libsql.ts";
import { PostgresStorage } from "../backends/postgres.ts";
import { startPostgresServer } from "../tests/support/postgres_server.ts";
import { tempDir } from "../tests/support/temp.ts";
import { type AbResult, abTable, alternate, type Contender } from "./ab.ts";
import { payload } from "./harness.ts";

/** Runs the workloads and returns a Markdown section. */
export async function postgresSection({ smoke }: { smoke: boolean }): Promise<string> {
  const stored = smoke ? 200 : 10_000;
  const users = stored / 100; // 100 sessions per user: a page of 20 after the first always fills
  await using server = await startPostgresServer();
  const dir = await tempDir("bench-postgres");
  const postgres = new PostgresStorage({ url: server.url, poolSize: 1 });
  const libsql = new LibsqlStorage({ url: `file:${dir.path}/bench.db` });
  try {
    const memory = payload(2, 1);
    for (const storage of [postgres, libsql]) {
      for (let start = 0; start < stored; start += 500) {
        await storage.upsertMany(Array.from({ length: Math.min(500, stored - start) }, (_, k) => ({
          sessionId: `s${String(start + k).padStart(6, "0")}`,
          userId: `u${(start + k) % users}`,
          agentId: "agent",
          memory,
        })));
      }
    }
    const id = (i: number) => `s${String(Math.abs(i) % stored).padStart(6, "0")}`;
    const owner = (i: number) => `u${(Math.abs(i) % stored) % users}`;
    const cursors = new Map<string, string>();
    for (const [name, storage] of [["postgres", postgres], ["libsql", libsql]] as const) {
      const first = await storage.listSessions({ userId: "u1", limit: 20 });
      cursors.set(name, first.nextCursor!);
    }
    const contenders = (op: (storage: PostgresStorage | LibsqlStorage, name: string, i: number) => Promise<unknown>) =>
      [
        { name: "PostgresStorage (pg@8, pool of 1)", op: (i) => op(postgres, "postgres", i) },
        { name: "LibsqlStorage (file)", op: (i) => op(libsql, "libsql", i) },
      ] satisfies Contender[];
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new Error(what);
    };
    const options = smoke ? { rounds: 2, perRound: 10, warmup: 5 } : { rounds: 20, perRound: 200, warmup: 200 };
    const results: [string, AbResult[]][] = [
      [
        "upsert 2 KB",
        await alternate(
          contenders(async (s, _, i) =>
            check((await s.upsert({ sessionId: id(i), userId: owner(i), agentId: "agent", memory })).version > 1, "")
          ),
          options,
        ),
      ],
      [
        "read by id",
        await alternate(contenders(async (s, _, i) => check((await s.read(id(i))) !== null, "missing")), options),
      ],
      [
        "page of 20 (user, by createdAt, cursor)",
        await alternate(
          contenders(async (s, name) =>
            check(
              (await s.listSessions({ userId: "u1", limit: 20, cursor: cursors.get(name)! })).sessions.length === 20,
              "short page",
            )
          ),
          options,
        ),
      ],
    ];
    return `## PostgreSQL: PostgresStorage vs LibsqlStorage (file)\n\n` +
      `A local PostgreSQL 15 cluster (fsync off) and a libSQL file (WAL), ${stored} sessions of 2 KB each, ` +
      `rounds alternating the two (${options.rounds} rounds × ${options.perRound} ops). CPU is the Deno ` +
      `process's user + system time per op (median over rounds; the PostgreSQL server's own CPU is not in it, ` +
      `libSQL's is); wall is the median op.\n\n${abTable(results)}\n`;
  } finally {
    await postgres.close();
    await libsql.close();
    await dir.remove();
  }
}

if (import.meta.main) console.log(await postgresSection({ smoke: Deno.args.includes("--smoke") }));
