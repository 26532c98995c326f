/**
 * The primitive the Redis engine sits on (engines/redis/client.ts): a script
 * client over plain RESP to a real redis-server, with the script cache
 * (`EVALSHA`, `SCRIPT LOAD` on `NOSCRIPT`) and the typed scripts' keys; the
 * run-log scripts as one command each, and what they leave in Redis.
 */
import assert from "node:assert/strict";
import { type RedisReply, runScript, type ScriptClient, scriptSha } from "../engines/redis/client.ts";
import { RedisKeys } from "../engines/redis/keys.ts";
import { RedisEngine } from "../engines/redis/engine.ts";
import * as scripts from "../engines/redis/scripts.ts";
import * as runScripts from "../engines/redis/scripts_runs.ts";
import { RunConflictError } from "../session/errors.ts";
import type { NewRun } from "../session/driver.ts";
import { parseSessionInput, type SessionContent } from "../session/parse.ts";
import { isRespError, RespConnection, type RespValue, startRedisServer } from "./support/upstash_bridge.ts";
import { skipRedis } from "./support/backends.ts";

const ignore = await skipRedis();

function toReply(value: RespValue): RedisReply {
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value)) return value.map(toReply);
  if (typeof value === "bigint") return Number(value);
  if (value !== null && typeof value === "object") throw new Error(value.error);
  return value;
}

/** A script client over one RESP connection, logging the commands it sends. */
function respClient(connection: RespConnection, log: string[]): ScriptClient {
  const send = async (args: string[]) => {
    log.push(args[0]!);
    const reply = await connection.send(args);
    if (isRespError(reply)) throw new Error(reply.error);
    return toReply(reply);
  };
  return {
    evalsha: (sha, keys, args) => send(["EVALSHA", sha, String(keys.length), ...keys, ...args]),
    scriptLoad: async (script) => String(await send(["SCRIPT", "LOAD", script])),
  };
}

Deno.test({
  name: "Redis script client: EVALSHA, SCRIPT LOAD on NOSCRIPT (again after a flush), declared KEYS, typed replies",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const connection = await RespConnection.connect(server.port);
    try {
      const log: string[] = [];
      const client = respClient(connection, log);
      const k = new RedisKeys("{t}:agent:");
      await connection.send(["HSET", k.session("a b"), "v", "1"]);
      assert.deepEqual(await runScript(client, scripts.READ, { k, id: "a b" }), { v: "1" });
      assert.deepEqual(log, ["EVALSHA", "SCRIPT", "EVALSHA"], "first call loads the script");
      log.length = 0;
      assert.deepEqual(await runScript(client, scripts.READ, { k, id: "none" }), {});
      assert.deepEqual(log, ["EVALSHA"], "then one command per call");
      await connection.send(["SCRIPT", "FLUSH"]);
      log.length = 0;
      await runScript(client, scripts.READ, { k, id: "a b" });
      assert.deepEqual(log, ["EVALSHA", "SCRIPT", "EVALSHA"], "a flushed (restarted) server gets it again");
      assert.equal(
        await scriptSha(scripts.READ.source),
        new TextDecoder().decode(
          await connection.send(["SCRIPT", "LOAD", scripts.READ.source]) as Uint8Array,
        ),
      );
      // A script names every key it can before running: the session's hash and run list, its indexes, the op log.
      const { keys } = scripts.DELETE.encode({ k, op: "op-1", id: "a b", liveAfter: null });
      assert.deepEqual(keys.slice(0, 2), ["{t}:agent:o", "{t}:agent:ot"]);
      assert.ok(keys.includes("{t}:agent:s:a%20b") && keys.includes("{t}:agent:r:a%20b"));
      // Replies of the wrong shape are errors, never data.
      assert.throws(() => scripts.UPSERT.decode(["ok", "1", "2"]), /unexpected reply from the upsert script/);
      assert.throws(() => runScripts.APPEND_RUNS.decode("ok"), /unexpected reply from the appendRuns script/);
      await assert.rejects(
        runScript({ ...client, evalsha: () => Promise.reject(new Error("ERR boom")) }, scripts.READ, { k, id: "x" }),
        /ERR boom/,
      );
    } finally {
      await connection.close();
      await server.stop();
    }
  },
});

const text = (value: RespValue) => new TextDecoder().decode(value as Uint8Array);

Deno.test({
  name:
    "Redis engine run log: each write is one EVALSHA; a patch keeps the other fields' text; keys and indexes follow",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const connection = await RespConnection.connect(server.port);
    try {
      const log: string[] = [];
      const engine = new RedisEngine({
        mode: "agent",
        client: respClient(connection, log),
        keyPrefix: "{t}:agent:",
        legacyKeyPrefix: null,
        ttlMs: null,
      });
      const k = new RedisKeys("{t}:agent:");
      const time = { now: 5_000, liveAfter: null };
      const run = (key: string | null, text: string) => ({
        key,
        digest: key === null ? null : `d${text.length}`,
        run: { text },
      });
      // Text JSON.parse/JSON.stringify keep but a decode and re-encode in Lua would change (1e+21, escapes, []).
      const sessionData = { big: 1e21, tricky: 'a"}{,[\\', list: [[], {}, { n: -0.5 }], é: "😀" };
      const create = parseSessionInput("agent", { sessionId: "s", userId: "ada", agentId: "e1", sessionData });
      await engine.appendRuns("s", [run("u1", "hi")], { ...time, userId: "ada", create }); // loads the script
      log.length = 0;
      const turn = await engine.appendRuns("s", [run("a1", "hello"), run(null, "note")], {
        ...time,
        userId: "ada",
        patch: { memory: { turns: 1 }, sessionName: "Greeting", agentId: "e2" } as Partial<SessionContent<"agent">>,
      });
      assert.deepEqual(turn, { version: 2, runCount: 3 });
      assert.deepEqual(log, ["EVALSHA"], "a turn with keys and a patch is one command");
      const d = text(await connection.send(["HGET", k.session("s"), "d"]));
      assert.ok(d.includes(`"sessionData":${JSON.stringify(sessionData)}`), `unpatched text kept: ${d}`);
      assert.deepEqual(JSON.parse(d).memory, { turns: 1 });
      const members = async (key: string) =>
        ((await connection.send(["ZRANGE", key, "0", "-1"])) as Uint8Array[]).map(text);
      assert.deepEqual(await members(k.index("ec", "e1")), [], "the old entity's index is left");
      assert.deepEqual(await members(k.index("ec", "e2")), ["000000000005000:s"]);
      assert.deepEqual((await engine.read("s"))?.sessionName, "Greeting");
      log.length = 0;
      assert.deepEqual(
        await engine.appendRuns("s", [run("u1", "hi")], { ...time, userId: "ada", patch: { memory: null } }),
        { version: 2, runCount: 3 },
        "a replay",
      );
      await assert.rejects(
        engine.appendRuns("s", [run("u1", "other")], { ...time, userId: "ada" }),
        (e) => e instanceof RunConflictError && e.key === "u1" && e.actual === 2,
      );
      assert.deepEqual(log, ["EVALSHA", "EVALSHA"], "a replay and a key conflict are one command each");
      assert.deepEqual((await engine.read("s"))?.memory, { turns: 1 }, "a replay writes no patch");
      assert.deepEqual((await engine.getRun("s", "a1", { liveAfter: null }))?.seq, 2);
      const edit = (keepThrough: number, add: NewRun[], expectedVersion: number) =>
        engine.editRuns("s", { keepThrough, add }, { ...time, userId: "ada", expectedVersion });
      await assert.rejects(
        edit(1, [run("u1", "x")], 2),
        (e) => e instanceof RunConflictError && /held by run 1/.test(e.message),
      );
      log.length = 0;
      assert.deepEqual(await edit(1, [{ ...run("n1", "new"), createdAt: 7 }], 2), { version: 3, runCount: 2 });
      assert.deepEqual(log, ["EVALSHA"], "an edit is one command");
      const keys = (await connection.send(["HGETALL", k.runKeys("s")]) as Uint8Array[]).map(text);
      assert.deepEqual(keys, ["u1", "1", "n1", "2"], "the removed runs' keys are gone");
      const runs = await engine.getRuns("s", {
        seqAbove: null,
        seqBelow: null,
        order: "asc",
        limit: 10,
        liveAfter: null,
      });
      assert.deepEqual(runs.map((r) => [r.seq, r.key, r.digest, r.createdAt]), [[1, "u1", "d2", 5000], [
        2,
        "n1",
        "d3",
        7,
      ]]);
    } finally {
      await connection.close();
      await server.stop();
    }
  },
});
