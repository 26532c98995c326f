import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { UpstashRedisStorage } from "../backends/upstash.ts";
import { CorruptRecordError, StorageError, ValidationError } from "../session/errors.ts";
import { runConformance } from "./conformance.ts";
import { skipRedis, upstashBackend } from "./support/backends.ts";
import {
  RespConnection,
  startRedisServer,
  startReplyDroppingProxy,
  startUpstashBridge,
  type UpstashBridge,
} from "./support/upstash_bridge.ts";

const ignore = await skipRedis();
runConformance(upstashBackend(), { ignore });

async function withRedis(fn: (redis: RespConnection, bridge: UpstashBridge) => Promise<void>): Promise<void> {
  const server = await startRedisServer();
  const bridge = await startUpstashBridge({ redisPort: server.port });
  const redis = await RespConnection.connect(server.port);
  try {
    await fn(redis, bridge);
  } finally {
    redis.close();
    await bridge.stop();
    await server.stop();
  }
}

function open(bridge: UpstashBridge, extra: Record<string, unknown> = {}) {
  return new UpstashRedisStorage({ url: bridge.url, token: bridge.token, retries: 0, ...extra });
}

Deno.test({
  name: "UpstashRedisStorage: one HTTP request per read, write, delete and list page, at 10 and at 5 000 sessions",
  ignore,
  fn: () =>
    withRedis(async (_redis, bridge) => {
      const storage = open(bridge);
      const counts: Record<string, number[]> = {};
      const count = async (name: string, work: () => Promise<unknown>) => {
        bridge.resetCounts();
        await work();
        (counts[name] ??= []).push(bridge.requests);
      };
      for (const size of [10, 5000]) {
        const have = (await storage.getAllSessionIds()).length;
        for (let start = have; start < size; start += 500) {
          await storage.upsertMany(
            Array.from({ length: Math.min(500, size - start) }, (_, i) => ({
              sessionId: `s${start + i}`,
              userId: `u${(start + i) % 7}`,
              agentId: "a",
            })),
          );
        }
        // The first use of each script per Redis costs two more requests (EVALSHA misses, SCRIPT LOAD, EVALSHA).
        await storage.upsert({ sessionId: "warm" });
        await storage.read("warm");
        await storage.listSessions({ limit: 1 });
        await storage.renameSession("warm", "w");
        await storage.appendRuns("warm", [{}]);
        await storage.getRuns("warm");
        await storage.deleteSession("warm");
        await count("read", () => storage.read("s3"));
        await count("upsert", () => storage.upsert({ sessionId: "s3", userId: "u3", memory: { size } }));
        await count("upsert with expectedVersion", async () => {
          const s = (await storage.read("s4"))!;
          bridge.resetCounts();
          await storage.upsert({ ...s, memory: { size } }, { expectedVersion: s.version });
        });
        await count("list page of 20", () => storage.listSessions({ limit: 20 }));
        await count("list page of 20 by user", () => storage.listSessions({ userId: "u2", limit: 20 }));
        const page = await storage.listSessions({ limit: 20, sortBy: "updatedAt" });
        await count("next list page", () =>
          storage.listSessions({ limit: 20, sortBy: "updatedAt", cursor: page.nextCursor }));
        await count("getRecentSessions", () =>
          storage.getRecentSessions());
        await count("rename", () => storage.renameSession("s5", "x"));
        await count("appendRuns", () => storage.appendRuns("s6", [{ turn: 1 }], { userId: "u6" }));
        await count("getRuns", () => storage.getRuns("s6"));
        await count("upsertMany of 100", () =>
          storage.upsertMany(Array.from({ length: 100 }, (_, i) => ({ sessionId: `m${i}` }))));
        await count("delete", () =>
          storage.deleteSession("s7"));
      }
      console.log("upstash requests per operation at 10 / 5 000 sessions:", JSON.stringify(counts));
      for (const [name, [small, large]] of Object.entries(counts)) {
        assert.equal(small, 1, `${name} at 10 sessions`);
        assert.equal(large, 1, `${name} at 5 000 sessions`);
      }
    }),
});

Deno.test({
  name: "UpstashRedisStorage: drop removes exactly its prefix and mode; no id can be read as a pattern",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      await redis.send(["SET", "unrelated", "keep"]);
      await redis.send(["SET", "agentstate:agent:s:x", "not ours? yes ours: a wrong type"]);
      const agent = open(bridge);
      const team = open(bridge, { mode: "team" });
      const other = open(bridge, { prefix: "agentstate2" });
      for (const id of ["*", "a:b", "[x]", "?"]) await agent.upsert({ sessionId: id, userId: "*" });
      await team.upsert({ sessionId: "*" });
      await other.upsert({ sessionId: "*" });
      await assert.rejects(agent.read("x"), CorruptRecordError);
      await agent.drop();
      const keys = (await redis.send(["KEYS", "*"]) as Uint8Array[]).map((k) => new TextDecoder().decode(k)).sort();
      assert.ok(keys.includes("unrelated"));
      assert.ok(keys.some((k) => k.startsWith("agentstate:team:")));
      assert.ok(keys.some((k) => k.startsWith("agentstate2:agent:")));
      assert.deepEqual(keys.filter((k) => k.startsWith("agentstate:agent:") && k !== "agentstate:agent:s:x"), []);
      assert.equal((await team.read("*"))?.version, 1);
      assert.throws(() => open(bridge, { prefix: "a:b" }), ValidationError);
      assert.throws(() => open(bridge, { prefix: "*" }), ValidationError);
    }),
});

Deno.test({
  name: "UpstashRedisStorage: TTL is native; corrupt values, bad tokens and oversize payloads are errors",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      const storage = open(bridge, { ttlMs: 60_000 });
      await storage.upsert({ sessionId: "t", memory: { a: 1 } });
      await storage.appendRuns("t", [{ n: 1 }]);
      const ttl = await redis.send(["PTTL", "agentstate:agent:s:t"]) as number;
      assert.ok(ttl > 50_000 && ttl <= 60_000, `PTTL ${ttl}`);
      assert.ok((await redis.send(["PTTL", "agentstate:agent:r:t"]) as number) > 50_000);
      await redis.send(["HSET", "agentstate:agent:s:t", "d", "{not json"]);
      await assert.rejects(storage.read("t"), (e) =>
        e instanceof CorruptRecordError && /agentstate:agent:s:t/.test(e.message));
      const wrong = new UpstashRedisStorage({ url: bridge.url, token: "wrong", retries: 0 });
      await assert.rejects(wrong.read("t"), (e) =>
        e instanceof StorageError && /Unauthorized/.test(e.message));
      const nowhere = new UpstashRedisStorage({ url: "http://127.0.0.1:9", token: "x", retries: 0 });
      await assert.rejects(nowhere.read("t"), StorageError);
      bridge.resetCounts();
      await assert.rejects(
        storage.upsert({ sessionId: "huge", memory: { text: "x".repeat(11 * 1024 * 1024) } }),
        ValidationError,
      );
      assert.equal(bridge.requests, 0, "refused before sending");
      const five = { text: "é".repeat(2_500_000) };
      await storage.upsert({ sessionId: "five", memory: five });
      assert.deepEqual((await storage.read("five"))?.memory, five);
    }),
});

Deno.test({
  name: "UpstashRedisStorage: faults at the REST layer are StorageErrors and leave nothing half-written",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      const storage = open(bridge);
      const before = await storage.upsert({ sessionId: "f", memory: { v: 1 } });
      for (const kind of ["status500", "garbage", "drop"] as const) {
        bridge.fault = { kind, count: 1 };
        const error = await storage.upsert({ sessionId: "f", memory: { v: 2 } }).catch((e) => e);
        assert.ok(error instanceof StorageError, `${kind}: ${error}`);
        assert.ok(error.cause, `${kind}: the cause is kept`);
        assert.deepEqual(await storage.read("f"), before, `${kind}: previous version intact`);
      }
      bridge.fault = { kind: "hang", count: 1 };
      const client = new Redis({
        url: bridge.url,
        token: bridge.token,
        retry: { retries: 0 },
        signal: () => AbortSignal.timeout(200),
        automaticDeserialization: false,
        enableTelemetry: false,
      });
      const timed = new UpstashRedisStorage({ redis: client as never });
      await assert.rejects(timed.read("f"), StorageError);
      bridge.fault = null;
      const raw = await redis.send(["HGET", "agentstate:agent:s:f", "v"]) as Uint8Array;
      assert.equal(new TextDecoder().decode(raw), "1", "redis holds version 1");
    }),
});

Deno.test({
  name: "UpstashRedisStorage reads and appends to a layout-1 hash (written before run logs: no run count)",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      // Layout 1, before run logs: a session hash without the `rc` (run count) field and no runs list.
      await redis.send([
        "HSET",
        "agentstate:agent:s:old",
        "u",
        "=ada",
        "n",
        "=kept",
        "c",
        "000000000001000",
        "m",
        "000000000002000",
        "v",
        "7",
        "d",
        JSON.stringify({
          teamSessionId: null,
          memory: { turns: 3 },
          sessionData: null,
          extraData: null,
          agentData: null,
        }),
      ]);
      await redis.send(["ZADD", "agentstate:agent:x:c", "0", "000000000001000:old"]);
      const storage = open(bridge);
      const old = await storage.read("old");
      assert.deepEqual([old?.userId, old?.sessionName, old?.memory, old?.version, old?.createdAt], [
        "ada",
        "kept",
        { turns: 3 },
        7,
        1000,
      ]);
      assert.deepEqual(await storage.appendRuns("old", [{ turn: 4 }], { userId: "ada" }), { version: 8, runCount: 1 });
      assert.deepEqual((await storage.getRuns("old")).runs.map((r) => r.run), [{ turn: 4 }]);
    }),
});

Deno.test({
  name: "UpstashRedisStorage: a lost reply makes the client send a write again; it runs once and answers as the first",
  ignore,
  fn: () =>
    withRedis(async (_redis, bridge) => {
      const proxy = startReplyDroppingProxy(Number(new URL(bridge.url).port));
      try {
        const resent: Record<string, number> = {};
        for (const retries of [0, 5]) {
          const storage = new UpstashRedisStorage({
            url: proxy.url,
            token: bridge.token,
            retries,
            prefix: `r${retries}`,
          });
          // Load every script first, so that the request whose reply is lost is the write itself.
          await storage.upsert({ sessionId: "warm" });
          await storage.appendRuns("warm", [{}]);
          await storage.renameSession("warm", "w");
          await storage.importSessions([{ session: (await storage.read("warm"))!, runs: [] }], { onConflict: "skip" });
          await storage.deleteSession("warm");
          await storage.read("warm");
          await storage.getRuns("warm");
          const lose = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
            bridge.resetCounts();
            proxy.drop = 1;
            const dropped = proxy.dropped;
            const result = await work();
            assert.equal(proxy.dropped, dropped + 1, `${name}: a reply was lost`);
            resent[`${name}, retries ${retries}`] = bridge.requests;
            assert.ok(bridge.requests >= 2, `${name}: sent again (${bridge.requests} requests)`);
            return result;
          };
          const created = await lose("create (expectedVersion 0)", () =>
            storage.upsert({ sessionId: "s", memory: { n: 0 } }, { expectedVersion: 0 }));
          assert.equal(created.version, 1);
          assert.deepEqual(
            await lose("appendRuns", () =>
              storage.appendRuns("s", [{ n: 1 }])),
            {
              version: 2,
              runCount: 1,
            },
          );
          assert.deepEqual((await storage.getRuns("s")).runs.map((r) => r.run), [{ n: 1 }], "the run stored once");
          const updated = await lose(
            "upsert (expectedVersion 2)",
            () => storage.upsert({ sessionId: "s", memory: { n: 2 } }, { expectedVersion: 2 }),
          );
          assert.equal(updated.version, 3);
          assert.equal((await lose("rename", () => storage.renameSession("s", "named")))?.version, 4);
          assert.equal((await storage.read("s"))?.version, 4, "renamed once");
          assert.equal(await lose("deleteSession", () => storage.deleteSession("s")), true);
          const entry = { session: { ...created, sessionId: "i" }, runs: [] };
          assert.deepEqual(await lose("importSessions (fail)", () => storage.importSessions([entry])), {
            imported: 1,
            skipped: 0,
          });
        }
        console.log("requests per write whose reply was lost:", JSON.stringify(resent));
      } finally {
        await proxy.stop();
      }
    }),
});

Deno.test({
  name: "UpstashRedisStorage: corrupt run logs and session hashes are CorruptRecordErrors naming the key",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      const storage = open(bridge);
      const corrupt = (key: string) => (e: unknown) =>
        e instanceof CorruptRecordError && e.location.startsWith(key) && e.message.includes(key);
      const runs = "agentstate:agent:r:s";
      await storage.upsert({ sessionId: "s", memory: { a: 1 } });
      await storage.appendRuns("s", [{ n: 1 }, { n: 2 }, { n: 3 }]);
      await redis.send(["LSET", runs, "1", "5"]);
      await assert.rejects(storage.getRuns("s"), corrupt(runs), "a run entry that is a number");
      await redis.send(["LSET", runs, "1", '{"seq":2,"createdAt":1,"run":[]}']);
      await assert.rejects(storage.getRuns("s"), corrupt(runs), "a run that is not an object");
      await redis.send(["LSET", runs, "1", '{"seq":3,"createdAt":1,"run":{}}']);
      await assert.rejects(storage.getRuns("s"), corrupt(runs), "a record of another seq");
      await redis.send(["LSET", runs, "1", '{"seq":2,"createdAt":1,"run":{}}']);
      assert.equal((await storage.getRuns("s")).runs.length, 3);
      await redis.send(["RPOP", runs]);
      await assert.rejects(storage.getRuns("s"), corrupt(runs), "one entry short of runCount");
      await assert.rejects(storage.getRuns("s", { order: "desc", limit: 1 }), corrupt(runs), "the last one missing");
      await redis.send(["DEL", runs]);
      await assert.rejects(storage.getRuns("s"), corrupt(runs), "the log deleted");

      const hash = "agentstate:agent:s:h";
      await storage.upsert({ sessionId: "h", userId: "ada", memory: { a: 1 } });
      for (const [field, value] of [["d", "[]"], ["d", "{}"], ["d", "7"], ["u", "bob"], ["c", "x"]]) {
        const [before] = await Promise.all([
          redis.send(["HGET", hash, field!]),
          redis.send(["HSET", hash, field!, value!]),
        ]);
        await assert.rejects(storage.read("h"), corrupt(hash), `${field} = ${value}`);
        // A time that is not a number stops the listing script itself: an error, never a page without the session.
        await assert.rejects(storage.listSessions(), field === "c" ? StorageError : corrupt(hash), `listed: ${field}`);
        await redis.send(["HSET", hash, field!, before as Uint8Array]);
      }
      assert.deepEqual((await storage.read("h"))?.memory, { a: 1 });
    }),
});

Deno.test({
  name: "UpstashRedisStorage: the latest accepted time is listed and dropped; a later one is refused",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      const storage = open(bridge);
      const session = (createdAt: number) => ({
        sessionId: `t${createdAt}`,
        createdAt,
        updatedAt: createdAt,
        version: 1,
        userId: "u",
        sessionName: null,
        agentId: "a",
        teamSessionId: null,
        memory: null,
        sessionData: null,
        extraData: null,
        agentData: null,
      });
      await assert.rejects(storage.importSessions([{ session: session(1e15), runs: [] }]), ValidationError);
      await storage.importSessions([{ session: session(1e15 - 1), runs: [] }]);
      for (const options of [{}, { userId: "u" }, { entityId: "a" }, { sortBy: "updatedAt" as const }]) {
        assert.deepEqual((await storage.listSessions(options)).sessions.map((s) => s.createdAt), [1e15 - 1]);
      }
      await storage.drop();
      assert.deepEqual(await redis.send(["KEYS", "agentstate:*"]), []);
    }),
});

Deno.test({
  name: "UpstashRedisStorage: error messages and their causes carry no session content (wrong token, Redis errors)",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      const secret = "SECRET-MEMORY-7f3a";
      const messages = (error: unknown): string[] => {
        const out: string[] = [];
        for (let e = error; e instanceof Error; e = e.cause) out.push(e.message, String(e.stack));
        return out;
      };
      const wrong = open(bridge, { token: "wrong" });
      const error = await wrong.upsert({ sessionId: "s", memory: { note: secret } }).catch((e) => e);
      assert.ok(error instanceof StorageError && /Unauthorized/.test(error.message), String(error));
      assert.ok(error.cause, "the cause is kept");
      assert.deepEqual(messages(error).filter((m) => m.includes(secret) || m.includes("command was")), []);
      // A Redis error during a write (the session key holds a string): the request body stays out too.
      await redis.send(["SET", "agentstate:agent:s:t", "x"]);
      const failed = await open(bridge).upsert({ sessionId: "t", memory: { note: secret } }).catch((e) => e);
      assert.ok(failed instanceof StorageError && /WRONGTYPE/.test(failed.message), String(failed));
      assert.deepEqual(messages(failed).filter((m) => m.includes(secret)), []);
    }),
});

Deno.test({
  name:
    "UpstashRedisStorage: the request limit counts the body as sent; at the boundary no accepted request exceeds it",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      const limit = 100_000;
      const storage = open(bridge, { maxRequestBytes: limit, clock: () => 1_700_000_000_000 });
      // Quotes and newlines double twice (JSON in a JSON string in the request); "é" is two bytes.
      const write = async (n: number) => {
        await redis.send(["SCRIPT", "FLUSH"]); // the first request of a script is the biggest (it loads the script)
        bridge.resetCounts();
        try {
          await storage.upsert({ sessionId: "b", memory: { text: '"\n\u00e9'.repeat(n) } });
        } catch (error) {
          assert.ok(error instanceof ValidationError, String(error));
          assert.equal(bridge.requests, 0, "refused before sending");
          return false;
        }
        assert.ok(bridge.largestRequest <= limit, `a ${bridge.largestRequest}-byte request was sent`);
        return true;
      };
      let low = 0;
      let high = limit;
      while (high - low > 1) {
        const middle = Math.floor((low + high) / 2);
        if (await write(middle)) low = middle;
        else high = middle;
      }
      assert.ok(await write(low));
      const largest = bridge.largestRequest;
      console.log(`limit ${limit}: largest write accepted sends ${largest} bytes; one more character is refused`);
      assert.ok(limit - largest < 10, `accepted up to ${largest} of ${limit} bytes`);
      assert.equal(await write(low + 1), false);
    }),
});
