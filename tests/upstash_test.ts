import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { UpstashRedisStorage } from "../backends/upstash.ts";
import { CorruptRecordError, StorageError, ValidationError } from "../session/errors.ts";
import { runConformance } from "./conformance/mod.ts";
import { skipRedis, upstashBackend } from "./support/backends.ts";
import { open, withRedis } from "./support/upstash_stack.ts";

const ignore = await skipRedis();
runConformance(upstashBackend(), { ignore });

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
      await redis.send(["SET", "{agentstate}:agent:s:x", "not ours? yes ours: a wrong type"]);
      const agent = open(bridge);
      const team = open(bridge, { mode: "team" });
      const other = open(bridge, { prefix: "agentstate2" });
      for (const id of ["*", "a:b", "[x]", "?"]) await agent.upsert({ sessionId: id, userId: "*" });
      await agent.appendRuns("*", [{ n: 1 }], { userId: "*", keys: ["k"] });
      assert.equal(await redis.send(["HGET", "{agentstate}:agent:k:%2a", "k"]) instanceof Uint8Array, true);
      await team.upsert({ sessionId: "*" });
      await other.upsert({ sessionId: "*" });
      await assert.rejects(agent.read("x"), CorruptRecordError);
      await agent.drop();
      const keys = (await redis.send(["KEYS", "*"]) as Uint8Array[]).map((k) => new TextDecoder().decode(k)).sort();
      assert.ok(keys.includes("unrelated"));
      assert.ok(keys.some((k) => k.startsWith("{agentstate}:team:")));
      assert.ok(keys.some((k) => k.startsWith("{agentstate2}:agent:")));
      assert.deepEqual(keys.filter((k) => k.startsWith("{agentstate}:agent:") && k !== "{agentstate}:agent:s:x"), []);
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
      await storage.appendRuns("t", [{ n: 1 }], { keys: ["k"] });
      const ttl = await redis.send(["PTTL", "{agentstate}:agent:s:t"]) as number;
      assert.ok(ttl > 50_000 && ttl <= 60_000, `PTTL ${ttl}`);
      assert.ok((await redis.send(["PTTL", "{agentstate}:agent:r:t"]) as number) > 50_000);
      assert.ok(
        (await redis.send(["PTTL", "{agentstate}:agent:k:t"]) as number) > 50_000,
        "the run-key hash expires too",
      );
      await redis.send(["HSET", "{agentstate}:agent:s:t", "d", "{not json"]);
      await assert.rejects(
        storage.read("t"),
        (e) => e instanceof CorruptRecordError && /\{agentstate\}:agent:s:t/.test(e.message),
      );
      const wrong = new UpstashRedisStorage({ url: bridge.url, token: "wrong", retries: 0 });
      await assert.rejects(wrong.read("t"), (e) => e instanceof StorageError && /Unauthorized/.test(e.message));
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
      const raw = await redis.send(["HGET", "{agentstate}:agent:s:f", "v"]) as Uint8Array;
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
  name: "UpstashRedisStorage: a chat turn (keyed runs + patch, or create) is one HTTP request; run-log reads one each",
  ignore,
  fn: () =>
    withRedis(async (_redis, bridge) => {
      const storage = open(bridge);
      const counts: Record<string, number> = {};
      const count = async (name: string, work: () => Promise<unknown>) => {
        bridge.resetCounts();
        await work();
        counts[name] = bridge.requests;
      };
      // Load the scripts first (a script's first use per Redis costs a SCRIPT LOAD).
      await storage.appendRuns("warm", [{}], { create: true, keys: ["k"] });
      await storage.getRun("warm", "k");
      await storage.getRuns("warm");
      await storage.popRun("warm");
      await count("turn creating the session", () =>
        storage.appendRuns("t", [{ role: "user" }, { role: "assistant" }], {
          userId: "ada",
          create: true,
          keys: ["m1", "m2"],
          patch: { memory: { turns: 1 }, agentId: "a" },
        }));
      for (let turn = 2; turn <= 10; turn++) {
        await count(`turn ${turn}`, () =>
          storage.appendRuns("t", [{ role: "user", turn }, { role: "assistant", turn }], {
            userId: "ada",
            keys: [`u${turn}`, `a${turn}`],
            patch: { memory: { turns: turn }, sessionName: `turn ${turn}` },
          }));
      }
      await count("replayed turn", () =>
        storage.appendRuns("t", [{ role: "user", turn: 10 }, { role: "assistant", turn: 10 }], {
          userId: "ada",
          keys: ["u10", "a10"],
          patch: { memory: { turns: 99 } },
        }));
      await count("getRun", () =>
        storage.getRun("t", "a5", { userId: "ada" }));
      await count("getRuns by range", () =>
        storage.getRuns("t", { after: 4, before: 9, order: "desc" }));
      await count("last 4 runs", () => storage.getRuns("t", { last: 4 }));
      // An edit reads what it needs (session, then the run addressed), then writes in one request.
      await count("truncateRuns by key (read, locate, write)", () =>
        storage.truncateRuns("t", { key: "a9" }, { userId: "ada" }));
      console.log("upstash requests per run-log operation:", JSON.stringify(counts));
      const { ["truncateRuns by key (read, locate, write)"]: truncate, ...single } = counts;
      for (const [name, n] of Object.entries(single)) {
        assert.equal(n, 1, name);
      }
      assert.equal(truncate, 3);
      const session = await storage.read("t");
      assert.deepEqual([session?.version, session?.memory, session?.agentId], [11, { turns: 10 }, "a"]);
      assert.equal((await storage.getRuns("t", { last: 1 })).runs[0]?.key, "a9");
      assert.deepEqual(
        (await storage.listSessions({ entityId: "a" })).sessions.map((s) =>
          s.sessionId
        ),
        ["t"],
      );
    }),
});

Deno.test({
  name: "UpstashRedisStorage reads and edits run records written before run keys (no key, no digest, no key hash)",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
      const d = { teamSessionId: null, memory: null, sessionData: null, extraData: null, agentData: null };
      await redis.send(["HSET", "agentstate:agent:s:r", "c", "000000000001000", "m", "000000000002000", "v", "3"]);
      await redis.send(["HSET", "agentstate:agent:s:r", "rc", "3", "d", JSON.stringify(d)]);
      await redis.send(["ZADD", "agentstate:agent:x:c", "0", "000000000001000:r"]);
      await redis.send(["ZADD", "agentstate:agent:x:u", "0", "000000000002000:r"]);
      const records = [1, 2, 3].map((seq) => JSON.stringify({ seq, createdAt: 1000 + seq, run: { n: seq } }));
      await redis.send(["RPUSH", "agentstate:agent:r:r", ...records]);
      const storage = open(bridge);
      assert.deepEqual(
        (await storage.getRuns("r")).runs,
        [1, 2, 3].map((seq) => ({
          seq,
          key: null,
          createdAt: 1000 + seq,
          run: { n: seq },
        })),
      );
      assert.equal(await storage.getRun("r", "k"), null);
      assert.deepEqual(await storage.putRun("r", { seq: 2 }, { n: 20 }), { version: 4, runCount: 3 });
      assert.deepEqual(await storage.appendRuns("r", [{ n: 4 }], { keys: ["k"] }), { version: 5, runCount: 4 });
      assert.deepEqual(await storage.truncateRuns("r", { seq: 1 }), { version: 6, runCount: 1 });
      assert.equal(await storage.getRun("r", "k"), null, "the truncated key is gone");
      assert.deepEqual((await storage.getRuns("r")).runs, [{ seq: 1, key: null, createdAt: 1001, run: { n: 1 } }]);
    }),
});
