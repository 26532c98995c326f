/**
 * The primitive the Redis engine sits on (engines/redis/client.ts): a script
 * client over plain RESP to a real redis-server, with the script cache
 * (`EVALSHA`, `SCRIPT LOAD` on `NOSCRIPT`) and the typed scripts' keys.
 */
import assert from "node:assert/strict";
import { type RedisReply, runScript, type ScriptClient, scriptSha } from "../engines/redis/client.ts";
import { RedisKeys } from "../engines/redis/keys.ts";
import * as scripts from "../engines/redis/scripts.ts";
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
      const k = new RedisKeys("t:agent:");
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
      assert.deepEqual(keys.slice(0, 2), ["t:agent:o", "t:agent:ot"]);
      assert.ok(keys.includes("t:agent:s:a%20b") && keys.includes("t:agent:r:a%20b"));
      // Replies of the wrong shape are errors, never data.
      assert.throws(() => scripts.UPSERT.decode(["ok", "1", "2"]), /unexpected reply from the upsert script/);
      assert.throws(() => scripts.APPEND_RUNS.decode("ok"), /unexpected reply from the appendRuns script/);
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
