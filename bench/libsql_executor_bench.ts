/**
 * CPU time per operation of `LibsqlStorage` on an embedded file through each
 * executor: `@libsql/client` (every `execute()` compiles its statement again)
 * and the `libsql` package with reused prepared statements. Rounds alternate
 * A/B on two files of the same shape; medians of the per-round means.
 *
 * Run: `deno run -A bench/libsql_executor_bench.ts [rounds] [ops per round]`.
 */
import { createClient } from "@libsql/client";
import process from "node:process";
import { LibsqlStorage } from "../backends/libsql.ts";

const rounds = Number(Deno.args[0] ?? 9);
const perRound = Number(Deno.args[1] ?? 2000);
const sessions = 1000;
const dir = await Deno.makeTempDir({ prefix: "agentstate-executor-bench-" });
const pad = "x".repeat(2000);

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

try {
  const clientFile = `${dir}/client.db`;
  const client = createClient({ url: `file:${clientFile}`, intMode: "number", concurrency: 1 });
  await client.execute("PRAGMA journal_mode = WAL");
  await client.execute("PRAGMA synchronous = NORMAL");
  const storages = {
    "@libsql/client": new LibsqlStorage({ client }),
    "libsql package, prepared": new LibsqlStorage({ url: `file:${dir}/native.db` }),
  };
  for (const storage of Object.values(storages)) {
    for (let i = 0; i < sessions; i += 100) {
      await storage.upsertMany(Array.from({ length: 100 }, (_, j) => ({ sessionId: `s${i + j}`, memory: { pad } })));
    }
  }
  const workloads: Record<string, (storage: LibsqlStorage, i: number) => Promise<unknown>> = {
    "upsert (update)": (s, i) => s.upsert({ sessionId: `s${i % sessions}`, memory: { pad, i } }),
    "read": (s, i) => s.read(`s${i % sessions}`),
  };
  const results: Record<string, Record<string, number[]>> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [workload, run] of Object.entries(workloads)) {
      const names = Object.keys(storages) as (keyof typeof storages)[];
      for (const name of round % 2 === 0 ? names : names.reverse()) {
        const started = cpuMs();
        for (let i = 0; i < perRound; i++) await run(storages[name], i);
        ((results[workload] ??= {})[name] ??= []).push((cpuMs() - started) * 1000 / perRound);
      }
    }
  }
  console.log(`CPU µs per operation, median of ${rounds} alternating rounds of ${perRound} (2 KB payloads, WAL):`);
  for (const [workload, byName] of Object.entries(results)) {
    console.log(`  ${workload}: ` + Object.entries(byName).map(([n, v]) => `${n} ${median(v).toFixed(1)}`).join(", "));
  }
  for (const storage of Object.values(storages)) await storage.close();
  client.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
