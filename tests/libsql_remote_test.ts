import assert from "node:assert/strict";
import { LibsqlStorage } from "../backends/libsql.ts";
import { StorageError } from "../session/errors.ts";
import { runConformance } from "./conformance/mod.ts";
import { libsqlRemoteBackend } from "./support/backends.ts";
import { type HranaServer, startHranaServer } from "./support/hrana_server.ts";
import { tempDir } from "./support/temp.ts";

runConformance(libsqlRemoteBackend());

const token = "test-token";

async function withServer(fn: (server: HranaServer, path: string) => Promise<void>): Promise<void> {
  const d = await tempDir("hrana");
  const path = `${d.path}/db.db`;
  await Deno.writeFile(path, new Uint8Array());
  const server = await startHranaServer({ path, token });
  try {
    await fn(server, path);
  } finally {
    await server.stop();
    await d.remove();
  }
}

Deno.test("LibsqlStorage over HTTP: one request per read, upsert, list page, rename, delete and append", () =>
  withServer(async (server) => {
    await using storage = new LibsqlStorage({ url: server.url, authToken: token });
    await storage.upsertMany(Array.from({ length: 50 }, (_, i) => ({ sessionId: `s${i}`, userId: `u${i % 3}` })));
    await storage.read("s1"); // the first request of a client probes the protocol version
    const counts: Record<string, number> = {};
    const count = async (name: string, work: () => Promise<unknown>) => {
      server.resetCounts();
      await work();
      counts[name] = server.requests;
    };
    await count("read", () => storage.read("s1"));
    await count("upsert", () => storage.upsert({ sessionId: "s1", userId: "u1", memory: { a: 1 } }));
    await count(
      "upsert with expectedVersion",
      () => storage.upsert({ sessionId: "s1", userId: "u1" }, { expectedVersion: 2 }),
    );
    await count(
      "upsertMany of 20",
      () => storage.upsertMany(Array.from({ length: 20 }, (_, i) => ({ sessionId: `m${i}` }))),
    );
    await count("list page", () => storage.listSessions({ userId: "u2", limit: 10 }));
    await count("getRecentSessions", () => storage.getRecentSessions());
    await count("rename", () => storage.renameSession("s2", "x"));
    await count("appendRuns", () => storage.appendRuns("s2", [{ n: 1 }], { userId: "u2" }));
    await count("getRuns", () => storage.getRuns("s2"));
    await count("delete", () => storage.deleteSession("s3"));
    console.log("libsql over HTTP, requests per operation:", JSON.stringify(counts));
    for (const [name, n] of Object.entries(counts)) assert.equal(n, 1, name);
  }));

Deno.test("LibsqlStorage over HTTP: a wrong token or an unreachable server is a thrown StorageError", () =>
  withServer(async (server) => {
    await using wrong = new LibsqlStorage({ url: server.url, authToken: "wrong" });
    await assert.rejects(wrong.read("x"), (e) => e instanceof StorageError && /401|Unauthorized/i.test(e.message));
    await using nowhere = new LibsqlStorage({ url: "http://127.0.0.1:9" });
    await assert.rejects(nowhere.upsert({ sessionId: "x" }), StorageError);
  }));
