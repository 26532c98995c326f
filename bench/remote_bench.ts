/** LibsqlStorage over HTTP (the local Hrana server) against the same storage on an embedded file, same run. */
import { LibsqlStorage } from "../backends/libsql.ts";
import { startHranaServer } from "../tests/support/hrana_server.ts";
import { measure, payload, table } from "./harness.ts";
import type { SectionOptions } from "./libsql_bench.ts";

/** Runs the remote-vs-embedded workloads and returns a Markdown section. */
export async function remoteSection({ smoke, dir }: SectionOptions): Promise<string> {
  const iterations = smoke ? 20 : 500;
  await Deno.writeFile(`${dir}/remote.db`, new Uint8Array());
  const server = await startHranaServer({ path: `${dir}/remote.db`, token: "t" });
  const rows: (string | number)[][] = [];
  try {
    const remote = new LibsqlStorage({ url: server.url, authToken: "t" });
    const embedded = new LibsqlStorage({ url: `file:${dir}/embedded.db` });
    const small = payload(2, 5);
    for (const storage of [remote, embedded]) {
      await storage.upsertMany(
        Array.from({ length: 500 }, (_, i) => ({ sessionId: `s${i}`, userId: `u${i % 5}`, memory: small })),
      );
    }
    const workloads: [string, (s: LibsqlStorage, i: number) => Promise<unknown>][] = [
      ["read", (s, i) => s.read(`s${Math.abs(i) % 500}`)],
      ["upsert", (s, i) => s.upsert({ sessionId: `n${i}`, userId: "u1", memory: small })],
      ["list page of 20", (s) => s.listSessions({ userId: "u2", limit: 20 })],
      ["appendRuns", (s) => s.appendRuns("s1", [{ turn: "hello" }], { userId: "u1" })],
    ];
    for (const [name, work] of workloads) {
      server.resetCounts();
      await work(remote, 1_000_000);
      const requests = server.requests;
      const overHttp = await measure(name, (i) => work(remote, i), iterations, 5);
      const local = await measure(name, (i) => work(embedded, i), iterations, 5);
      rows.push([
        name,
        requests,
        overHttp.opsPerSec,
        local.opsPerSec,
        `${(overHttp.meanMs / local.meanMs).toFixed(1)}×`,
      ]);
    }
    await remote.close();
    await embedded.close();
  } finally {
    await server.stop();
  }
  return `## libSQL over HTTP (Hrana) vs the embedded file\n\nThe same LibsqlStorage, once with an \`http://\` URL ` +
    `(\`@libsql/client/web\`, no native code) against the local Hrana test server, once on an embedded file. The server ` +
    `runs in the same process on loopback, so the gap is protocol and JSON overhead, not network latency.\n\n${
      table(["operation", "HTTP requests", "over HTTP ops/s", "embedded ops/s", "HTTP / embedded time"], rows)
    }\n`;
}
