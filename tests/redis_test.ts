/**
 * RedisStorage (TCP, `@redis/client`) on a real redis-server: the conformance
 * and property suites, the Upstash layout shared both ways on one server,
 * one command per operation, and the failures of a TCP connection.
 */
import assert from "node:assert/strict";
import { createClient } from "@redis/client";
import { RedisStorage } from "../backends/redis.ts";
import { StorageError, ValidationError } from "../session/errors.ts";
import { runConformance } from "./conformance/mod.ts";
import { PROPERTY_RUNS, runPropertyTests } from "./property.ts";
import { skipRedis } from "./support/backends.ts";
import { startReplyDroppingProxy } from "./support/lossy_proxy.ts";
import { redisTcpBackend } from "./support/redis_tcp.ts";
import { type RedisServer, RespConnection, startRedisServer, startUpstashBridge } from "./support/upstash_bridge.ts";
import { open as openUpstash } from "./support/upstash_stack.ts";

const ignore = await skipRedis();
runConformance(redisTcpBackend(), { ignore });
runConformance(redisTcpBackend({ password: "p@ss word" }), { ignore, groups: ["crud", "atomic", "runlog"] });
runPropertyTests(redisTcpBackend(), { runs: PROPERTY_RUNS, ignore });

/** `work`'s result once the client has reconnected in the background (it fails while the connection is down). */
async function reconnected<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const tcp = (port: number, extra: Record<string, unknown> = {}) =>
  new RedisStorage({ url: `redis://127.0.0.1:${port}`, ...extra });

Deno.test({
  name: "RedisStorage and UpstashRedisStorage share the layout: written over REST, read over TCP, and back",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const bridge = await startUpstashBridge({ redisPort: server.port });
    try {
      const rest = openUpstash(bridge);
      await using over = tcp(server.port);
      await rest.upsert({ sessionId: "s 1", userId: "ada", agentId: "a", memory: { turns: 1, big: 1e21 } });
      await rest.appendRuns("s 1", [{ text: "hi" }, { text: "hello" }], {
        userId: "ada",
        keys: ["u1", "a1"],
        patch: { sessionName: "Greeting" },
      });
      assert.deepEqual(await over.read("s 1"), await rest.read("s 1"));
      assert.deepEqual(await over.getRuns("s 1", { userId: "ada" }), await rest.getRuns("s 1", { userId: "ada" }));
      assert.deepEqual((await over.getRun("s 1", "a1"))?.run, { text: "hello" });
      assert.deepEqual((await over.listSessions({ entityId: "a" })).sessions.map((s) => s.sessionName), ["Greeting"]);
      await over.appendRuns("s 1", [{ text: "again" }], {
        userId: "ada",
        keys: ["u2"],
        patch: { memory: { turns: 2 } },
      });
      await over.truncateRuns("s 1", { key: "u2" }, { userId: "ada" });
      await over.upsert({ sessionId: "t", userId: "bob" });
      assert.deepEqual(await rest.read("s 1"), await over.read("s 1"));
      assert.deepEqual((await rest.read("s 1"))?.memory, { turns: 2 });
      assert.deepEqual((await rest.getRuns("s 1")).runs.map((r) => [r.seq, r.key]), [[1, "u1"], [2, "a1"], [3, "u2"]]);
      assert.equal((await rest.listSessions({ userId: "bob" })).sessions[0]?.sessionId, "t");
      assert.deepEqual(
        await rest.appendRuns("s 1", [{ text: "again" }], { userId: "ada", keys: ["u2"] }),
        { version: 4, runCount: 3 },
        "a run appended over TCP is a replay over REST",
      );
    } finally {
      await bridge.stop();
      await server.stop();
    }
  },
});

/** Redis's command counts (scripts' own commands included) since `CONFIG RESETSTAT`, without the counting's. */
async function commandCounts(redis: RespConnection): Promise<Record<string, number>> {
  const info = new TextDecoder().decode(await redis.send(["INFO", "commandstats"]) as Uint8Array);
  const counts: Record<string, number> = {};
  for (const [, name, calls] of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
    if (!/^(info|config\|resetstat)$/.test(name!)) counts[name!] = Number(calls);
  }
  return counts;
}

Deno.test({
  name: "RedisStorage: one EVALSHA per operation, a chat turn included",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const redis = await RespConnection.connect(server.port);
    try {
      await using storage = tcp(server.port);
      const ops: Record<string, () => Promise<unknown>> = {
        upsert: () => storage.upsert({ sessionId: "s", userId: "u", memory: { n: 1 } }),
        read: () => storage.read("s"),
        "list page": () => storage.listSessions({ userId: "u", limit: 20 }),
        "turn (keyed runs + patch)": () =>
          storage.appendRuns("s", [{ q: 1 }, { a: 1 }], { userId: "u", keys: ["q1", "a1"], patch: { memory: {} } }),
        "turn creating the session": () => storage.appendRuns("c", [{ q: 1 }], { create: true, keys: ["q1"] }),
        getRun: () => storage.getRun("s", "a1"),
        "getRuns range": () => storage.getRuns("s", { after: 0, before: 3 }),
        rename: () => storage.renameSession("s", "x"),
        delete: () => storage.deleteSession("c"),
      };
      const counts: Record<string, Record<string, number>> = {};
      for (const [name, op] of Object.entries(ops)) {
        await op(); // loads the script on first use
        if (name === "turn creating the session") await storage.deleteSession("c");
        if (name === "delete") await storage.appendRuns("c", [{ q: 1 }], { create: true });
        await redis.send(["CONFIG", "RESETSTAT"]);
        await op();
        counts[name] = await commandCounts(redis);
      }
      console.log("redis commands per operation:", JSON.stringify(counts));
      // The client sends only EVALSHA and SCRIPT LOAD; the other counts are the commands run inside the script.
      for (const [name, count] of Object.entries(counts)) {
        assert.deepEqual([count.evalsha, count["script|load"]], [1, undefined], name);
      }
    } finally {
      await redis.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "RedisStorage: bad URLs and options are ValidationErrors; auth failures and a closed storage are StorageErrors",
  ignore,
  async fn() {
    assert.throws(() => new RedisStorage({ url: "http://127.0.0.1:6379" }), ValidationError);
    assert.throws(() => new RedisStorage({ url: "redis://x", prefix: "a:b" }), ValidationError);
    assert.throws(() => new RedisStorage({ url: "redis://x", connectTimeoutMs: 0 }), ValidationError);
    assert.throws(() => new RedisStorage({ url: "redis://x", nope: 1 } as never), ValidationError);
    const server = await startRedisServer();
    const redis = await RespConnection.connect(server.port);
    try {
      await redis.send(["CONFIG", "SET", "requirepass", "s3cret"]);
      await using good = tcp(server.port, { url: `redis://:s3cret@127.0.0.1:${server.port}` });
      await good.upsert({ sessionId: "a" });
      assert.equal((await good.read("a"))?.version, 1);
      await using valkey = tcp(server.port, { url: `valkey://:s3cret@127.0.0.1:${server.port}` });
      assert.equal((await valkey.read("a"))?.version, 1, "valkey:// is redis://");
      const chain = (e: unknown): string =>
        e instanceof Error ? `${e.message} ${e.stack} ${chain(e.cause)}` : String(e);
      for (const url of [`redis://:wrong-Pa55@127.0.0.1:${server.port}`, `redis://127.0.0.1:${server.port}`]) {
        await using bad = tcp(server.port, { url });
        await assert.rejects(bad.read("a"), (e) => {
          assert.ok(e instanceof StorageError && e.backend === "redis", url);
          assert.ok(!chain(e).includes("wrong-Pa55"), "the password is in no error message");
          return true;
        });
      }
      const later = await startRedisServer();
      await later.stop();
      await using early = tcp(later.port, { connectTimeoutMs: 500 });
      await assert.rejects(early.read("a"), StorageError, "nothing listens yet");
      const up = await startRedisServer({ port: later.port });
      try {
        assert.equal(await early.read("a"), null, "a failed first connection is tried again");
      } finally {
        await up.stop();
      }
      await good.close();
      await assert.rejects(good.read("a"), StorageError);
    } finally {
      await redis.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "RedisStorage: a stopped server is a StorageError (never absent); after a restart empty, scripts load again",
  ignore,
  async fn() {
    let server: RedisServer = await startRedisServer();
    const port = server.port;
    await using storage = tcp(port);
    try {
      await storage.upsert({ sessionId: "a", memory: { n: 1 } });
      await server.stop();
      await assert.rejects(storage.read("a"), StorageError, "a read while the server is down");
      await assert.rejects(storage.upsert({ sessionId: "a" }), StorageError, "a write while the server is down");
      server = await startRedisServer({ port });
      assert.equal(
        await reconnected(() => storage.read("a")),
        null,
        "the restarted server is empty, and the read says so",
      );
      assert.equal((await storage.upsert({ sessionId: "a" })).version, 1, "the scripts were loaded again");
      assert.deepEqual(await storage.appendRuns("a", [{ n: 1 }], { keys: ["k"] }), { version: 2, runCount: 1 });
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "RedisStorage: a caller's @redis/client client is used as given and left open by close()",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const client = createClient({ url: `redis://127.0.0.1:${server.port}` });
    await client.connect();
    try {
      const storage = new RedisStorage({ client, prefix: "mine" });
      await storage.upsert({ sessionId: "a", memory: { n: 1 } });
      await storage.close();
      assert.equal(client.isReady, true, "still open");
      assert.deepEqual(JSON.parse((await client.hGet("{mine}:agent:s:a", "d"))!).memory, { n: 1 });
    } finally {
      client.destroy();
      await server.stop();
    }
  },
});

Deno.test({
  name: "RedisStorage: a write whose reply is lost is a StorageError and ran once (never sent again by the client)",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const proxy = startReplyDroppingProxy(server.port);
    const port = Number(new URL(proxy.url).port);
    try {
      await using storage = tcp(port);
      await storage.upsert({ sessionId: "a" });
      await storage.appendRuns("a", [{ n: 0 }]); // loads the script
      proxy.drop = 1;
      await assert.rejects(storage.appendRuns("a", [{ n: 1 }]), StorageError);
      assert.equal(proxy.dropped, 1);
      await using direct = tcp(server.port);
      const session = await direct.read("a");
      assert.deepEqual(session?.version, 3, "the write ran once");
      assert.deepEqual((await direct.getRuns("a")).runs.map((r) => r.run), [{ n: 0 }, { n: 1 }]);
      assert.equal((await reconnected(() => storage.read("a")))?.version, 3);
    } finally {
      await proxy.stop();
      await server.stop();
    }
  },
});
