/**
 * PostgresStorage beside `@mastra/pg` on one throwaway PostgreSQL cluster:
 * upsert (1 and 32 concurrent callers), point read and a page of 20 of one
 * user's sessions, with 10 000 and 100 000 stored sessions per contender
 * (one schema per size). Every round runs all four (two libraries × two
 * sizes), who goes first rotating; per cell the medians of the rounds'
 * client CPU µs per op, server CPU µs per op (the cluster's processes, from
 * /proc) and operations per second. `--smoke` runs 200 and 400 sessions.
 *
 * Run alone: `deno run --config deno.dev.json -A bench/postgres_mastra_bench.ts [--smoke]`.
 */
import { PostgresStore } from "@mastra/pg";
import process from "node:process";
import pg from "pg";
import { PostgresStorage } from "../backends/postgres.ts";
import { startPostgresServer } from "../tests/support/postgres_server.ts";
import { fmt, mastraThread, payload, table } from "./harness.ts";

type Op = (caller: number, j: number) => Promise<unknown>;
const WORKLOADS = ["upsert, 1 caller", "upsert, 32 callers", "point read", "list page of 20"] as const;
type Workload = typeof WORKLOADS[number];
const CALLERS: Record<Workload, number> = {
  "upsert, 1 caller": 1,
  "upsert, 32 callers": 32,
  "point read": 1,
  "list page of 20": 1,
};
const POOL = 10;
const OURS = `PostgresStorage (pool of ${POOL})`;
const MASTRA = `@mastra/pg (pool of ${POOL})`;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? NaN;

/** CPU µs used so far by the PostgreSQL processes (the postmaster and its children), from /proc. */
async function serverCpuMicros(postmaster: number): Promise<number> {
  const tick = 10_000; // USER_HZ is 100 on Linux
  let total = 0;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // After "pid (comm) ": state ppid … utime is field 14, stime 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pid = Number(entry.name);
    if (pid !== postmaster && Number(fields[1]) !== postmaster) continue;
    total += (Number(fields[11]) + Number(fields[12])) * tick;
  }
  return total;
}

/** Runs `op` `total` times over `callers` concurrent loops: [client CPU µs/op, server CPU µs/op, ops/s]. */
async function run(op: Op, callers: number, total: number, postmaster: number): Promise<number[]> {
  const each = Math.ceil(total / callers);
  const server = await serverCpuMicros(postmaster);
  const cpu = process.cpuUsage();
  const wall = performance.now();
  await Promise.all(Array.from({ length: callers }, async (_, w) => {
    for (let j = 0; j < each; j++) await op(w, j);
  }));
  const seconds = (performance.now() - wall) / 1000;
  const used = process.cpuUsage(cpu);
  const ops = each * callers;
  return [(used.user + used.system) / ops, (await serverCpuMicros(postmaster) - server) / ops, ops / seconds];
}

/** Fills `<schema>.mastra_threads` with threads `seed-0` … `seed-<count - 1>` in one statement, copies of a saved template. */
async function seedMastra(client: pg.Client, schema: string, count: number, users: number): Promise<void> {
  const { rows } = await client.query(
    `SELECT column_name, data_type FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = 'mastra_threads'`,
    [schema],
  );
  const value = ({ column_name: name, data_type: type }: { column_name: string; data_type: string }) =>
    name === "id" || name === "title"
      ? `'seed-' || g`
      : name === "resourceId"
      ? `'user-' || (g % ${users})`
      : type.startsWith("timestamp")
      ? `t."${name}" + g * interval '1 millisecond'`
      : `t."${name}"`;
  const columns = rows.map((r) => `"${r.column_name}"`).join(", ");
  await client.query(
    `INSERT INTO "${schema}".mastra_threads (${columns}) SELECT ${rows.map(value).join(", ")}
     FROM generate_series(0, $1::int - 1) AS g, "${schema}".mastra_threads AS t WHERE t.id = 'template'`,
    [count],
  );
  await client.query(`DELETE FROM "${schema}".mastra_threads WHERE id = 'template'`);
}

/** The memory (threads) store of a Mastra storage. */
async function memoryOf(store: PostgresStore) {
  return (await store.getStore("memory"))!;
}

/** Runs the workloads on both sizes side by side and returns a Markdown section. */
export async function postgresMastraSection({ smoke }: { smoke: boolean }): Promise<string> {
  const sizes = smoke ? [200, 400] : [10_000, 100_000];
  const rounds = smoke ? 1 : 5;
  const perRound = smoke ? 32 : 320;
  const users = smoke ? 10 : 100; // at least 20 sessions per user
  const memory = payload(2, 1);
  await using server = await startPostgresServer();
  const postmaster = Number((await Deno.readTextFile(`${server.dir}/data/postmaster.pid`)).split("\n")[0]);
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  // One schema per size, each holding both contenders' tables.
  const schemaOf = (size: number) => `s${size}`;
  const ours = sizes.map((size) => new PostgresStorage({ url: server.url, schema: schemaOf(size), poolSize: POOL }));
  const mastraStores = sizes.map((size) =>
    new PostgresStore({ id: `bench-${size}`, connectionString: server.url, schemaName: schemaOf(size), max: POOL })
  );
  const results = new Map<string, number[][]>();
  const key = (size: number, workload: Workload, name: string) => `${size}|${workload}|${name}`;
  try {
    const seed = (i: number) => ({ sessionId: `seed-${i}`, userId: `user-${i % users}`, agentId: "agent", memory });
    const mastras: Awaited<ReturnType<typeof memoryOf>>[] = [];
    for (const [n, size] of sizes.entries()) {
      const seeding = performance.now();
      for (let i = 0; i < size; i += 1000) {
        await ours[n]!.upsertMany(Array.from({ length: Math.min(1000, size - i) }, (_, k) => seed(i + k)));
      }
      await mastraStores[n]!.init();
      const mastra = await memoryOf(mastraStores[n]!);
      await mastra.saveThread({ thread: mastraThread("template", "template", memory) });
      await seedMastra(admin, schemaOf(size), size, users);
      await admin.query(`VACUUM ANALYZE "${schemaOf(size)}".mastra_threads, "${schemaOf(size)}".agent_sessions`);
      mastras.push(mastra);
      console.error(`postgres/mastra bench: ${size} stored in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
    }
    // Each caller updates its own slice of the sessions.
    const slot = (callers: number) => (w: number, j: number) =>
      w * Math.floor(sizes[0]! / callers) + (j % Math.floor(sizes[0]! / callers));
    const contenders = (callers: number): [number, string, Record<Workload, Op>][] => {
      const at = slot(callers);
      return sizes.flatMap((size, n): [number, string, Record<Workload, Op>][] => {
        const storage = ours[n]!;
        const mastra = mastras[n]!;
        const upsertOurs: Op = (w, j) => storage.upsert(seed(at(w, j)));
        const upsertMastra: Op = (w, j) =>
          mastra.saveThread({ thread: mastraThread(`seed-${at(w, j)}`, `user-${at(w, j) % users}`, memory) });
        return [
          [size, OURS, {
            "upsert, 1 caller": upsertOurs,
            "upsert, 32 callers": upsertOurs,
            "point read": (w, j) => storage.read(`seed-${at(w, j)}`),
            "list page of 20": async (w, j) => {
              const page = await storage.listSessions({ userId: `user-${(w + j) % users}`, limit: 20 });
              if (page.sessions.length !== 20) throw new Error("short page");
            },
          }],
          [size, MASTRA, {
            "upsert, 1 caller": upsertMastra,
            "upsert, 32 callers": upsertMastra,
            "point read": (w, j) => mastra.getThreadById({ threadId: `seed-${at(w, j)}` }),
            "list page of 20": async (w, j) => {
              const page = await mastra.listThreads({
                filter: { resourceId: `user-${(w + j) % users}` },
                perPage: 20,
                page: 0,
                orderBy: { field: "createdAt", direction: "DESC" },
              });
              if (page.threads.length !== 20) throw new Error("short page");
            },
          }],
        ];
      });
    };

    for (const workload of WORKLOADS) {
      const callers = CALLERS[workload];
      const list = contenders(callers);
      for (const [, , ops] of list) await run(ops[workload], callers, Math.min(64, perRound), postmaster); // warm-up
      for (let round = 0; round < rounds; round++) {
        // Every contender once per round, who goes first rotating.
        for (let k = 0; k < list.length; k++) {
          const [size, name, ops] = list[(round + k) % list.length]!;
          const samples = results.get(key(size, workload, name)) ?? [];
          samples.push(await run(ops[workload], callers, perRound, postmaster));
          results.set(key(size, workload, name), samples);
        }
      }
    }
  } finally {
    await admin.end();
    for (const storage of ours) await storage.close();
    for (const store of mastraStores) await store.close();
  }

  /** Medians over rounds of [client CPU, server CPU, ops/s]. */
  const medians = (size: number, workload: Workload, name: string) => {
    const samples = results.get(key(size, workload, name)) ?? [];
    return [0, 1, 2].map((i) => median(samples.map((s) => s[i]!)));
  };
  const rows = sizes.flatMap((size) =>
    WORKLOADS.flatMap((workload) => {
      const [ourCpu, ourServer, ourRate] = medians(size, workload, OURS) as [number, number, number];
      const [theirCpu, theirServer, theirRate] = medians(size, workload, MASTRA) as [number, number, number];
      return [[
        size.toLocaleString("en-US"),
        workload,
        `${fmt(ourRate)}/s · ${fmt(ourCpu)} + ${fmt(ourServer)} µs`,
        `${fmt(theirRate)}/s · ${fmt(theirCpu)} + ${fmt(theirServer)} µs`,
        `${(ourRate / theirRate).toFixed(2)}×`,
      ]];
    })
  );
  const rate = (size: number, workload: Workload, name: string) => medians(size, workload, name)[2]!;
  const ratio = (workload: Workload, size: number) =>
    `${(rate(size, workload, OURS) / rate(size, workload, MASTRA)).toFixed(2)}×`;
  const [small, large] = sizes as [number, number];
  const targets = [
    ["upsert, 1 caller ≥ @mastra/pg", ratio("upsert, 1 caller", small)],
    ["upsert, 32 callers ≥ @mastra/pg", ratio("upsert, 32 callers", small)],
    [`list page ≥ 5× @mastra/pg at ${small.toLocaleString("en-US")}`, ratio("list page of 20", small)],
    [`list page ≥ 5× @mastra/pg at ${large.toLocaleString("en-US")}`, ratio("list page of 20", large)],
    [
      `list page flat ${small.toLocaleString("en-US")} → ${large.toLocaleString("en-US")} (rate at least ⅔)`,
      `${(rate(large, "list page of 20", OURS) / rate(small, "list page of 20", OURS)).toFixed(2)}× the rate at ` +
      small.toLocaleString("en-US"),
    ],
  ];
  return `## PostgreSQL: PostgresStorage vs @mastra/pg\n\n` +
    `One throwaway PostgreSQL 15 cluster (fsync off) holding both, at two sizes side by side (a schema each): ` +
    `${small.toLocaleString("en-US")} and ${large.toLocaleString("en-US")} sessions per contender (2 KB JSON memory, ` +
    `${users} users), each contender with a ` +
    `\`pg\` pool of ${POOL}. \`@mastra/pg\` keeps threads (resourceId ~ userId, metadata ~ memory) and is driven ` +
    `with saveThread, getThreadById and listThreads by resource (newest first, page 0); PostgresStorage with upsert ` +
    `(no expectedVersion: Mastra has none), read and listSessions by user (newest first, first page). Updates: each ` +
    `caller on its own sessions. Per cell: operations per second · client CPU + server CPU µs per operation ` +
    `(the Deno process's user + system time; the cluster's processes from /proc, 10 ms ticks), medians of ` +
    `${rounds} rounds of ${perRound} operations; every round runs all four (two libraries × two sizes), who goes ` +
    `first rotating, so the sizes are compared under the same machine load; the last column is the ` +
    `ratio of the rates.\n\n` +
    table(["stored", "workload", OURS, MASTRA, "ours / theirs"], rows) + "\n\n" +
    `Issue 20 targets, from this run:\n\n` + table(["target", "measured"], targets) + "\n";
}

if (import.meta.main) console.log(await postgresMastraSection({ smoke: Deno.args.includes("--smoke") }));
