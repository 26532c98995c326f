/**
 * Upstash faults (issue 23): lost replies, corrupt records, time bounds,
 * content in error messages, the request size limit.
 */
import assert from "node:assert/strict";
import { CorruptRecordError, StorageError, ValidationError } from "../session/errors.ts";
import { UpstashRedisStorage } from "../backends/upstash.ts";
import { skipRedis } from "./support/backends.ts";
import { startReplyDroppingProxy } from "./support/lossy_proxy.ts";
import { open, withRedis } from "./support/upstash_stack.ts";

const ignore = await skipRedis();

Deno.test({
  name: "UpstashRedisStorage: a lost reply makes the client send a write again; it runs once and answers as the first",
  ignore,
  fn: () =>
    withRedis(async (redis, bridge) => {
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
        // The results kept for repeats expire (5 minutes after the last write) and are trimmed as writes go on.
        for (const key of ["{r5}:agent:o", "{r5}:agent:ot"]) {
          const ttl = await redis.send(["PTTL", key]) as number;
          assert.ok(ttl > 0 && ttl <= 300_000, `${key}: PTTL ${ttl}`);
        }
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
      const runs = "{agentstate}:agent:r:s";
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

      const hash = "{agentstate}:agent:s:h";
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
      await redis.send(["SET", "{agentstate}:agent:s:t", "x"]);
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
      await storage.create(); // the layout check: once per storage, before its first operation
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
