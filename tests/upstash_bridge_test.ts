/**
 * The Upstash REST bridge (tests/support/upstash_bridge.ts) against a real
 * `redis-server`, driven by the real `@upstash/redis` client, plus the RESP
 * client and the raw REST protocol underneath it.
 */
import assert from "node:assert/strict";
import { Redis, type RedisConfigNodejs } from "@upstash/redis";
import {
  isRespError,
  redisServerAvailable,
  RespConnection,
  type RespValue,
  startRedisServer,
  startUpstashBridge,
  type UpstashBridge,
} from "./support/upstash_bridge.ts";

const available = await redisServerAvailable();
const inCi = Deno.env.get("CI") === "true";
// In CI a missing redis-server is a failure: the tests run, and startRedisServer throws how to install it.
const ignore = !available && !inCi;
if (ignore) {
  console.warn("skipping Upstash bridge tests: redis-server is missing (apt-get install -y redis-server)");
}

type ClientOptions = Omit<RedisConfigNodejs, "url" | "token">;

/** A redis-server, a bridge in front of it, a real client, a direct RESP connection; all stopped afterwards. */
async function withStack(
  fn: (
    context: { redis: Redis; bridge: UpstashBridge; direct: RespConnection; client: (o?: ClientOptions) => Redis },
  ) => Promise<void>,
  clientOptions: ClientOptions = {},
): Promise<void> {
  const server = await startRedisServer();
  try {
    const bridge = await startUpstashBridge({ redisPort: server.port });
    try {
      const direct = await RespConnection.connect(server.port, server.hostname);
      try {
        const client = (options: ClientOptions = {}) =>
          new Redis({
            url: bridge.url,
            token: bridge.token,
            retry: { retries: 0 },
            enableTelemetry: false,
            ...clientOptions,
            ...options,
          });
        await fn({ redis: client(), bridge, direct, client });
      } finally {
        await direct.close();
      }
    } finally {
      await bridge.stop();
    }
  } finally {
    await server.stop();
  }
}

const text = (value: RespValue) => new TextDecoder().decode(value as Uint8Array);

/** A raw REST request to the bridge. */
async function rest(
  bridge: UpstashBridge,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(bridge.url + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${bridge.token}`, ...headers },
    body: body === undefined
      ? undefined
      : body instanceof Uint8Array
      ? new Blob([body as Uint8Array<ArrayBuffer>])
      : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const test = (name: string, fn: () => Promise<void>) => Deno.test({ name: `upstash bridge: ${name}`, ignore, fn });

test("set/get, missing keys, incr, del through the real client", () =>
  withStack(async ({ redis, bridge }) => {
    assert.equal(await redis.set("k", "v"), "OK");
    assert.equal(await redis.get("k"), "v");
    assert.equal(await redis.get("missing"), null);
    assert.equal(await redis.incr("n"), 1);
    assert.equal(await redis.incrby("n", 41), 42);
    assert.equal(await redis.get("n"), 42); // automatic deserialization turns "42" into a number
    assert.equal(await redis.set("once", "x", { nx: true }), "OK");
    assert.equal(await redis.set("once", "y", { nx: true }), null);
    assert.equal(await redis.del("k", "missing"), 1);
    assert.equal(await redis.exists("k"), 0);
    assert.equal(await redis.set("obj", { a: [1, "two"] }), "OK");
    assert.deepEqual(await redis.get("obj"), { a: [1, "two"] });
    assert.equal(bridge.requests, 12);
    assert.equal(bridge.commands, 12);
  }));

test("hashes and sorted sets", () =>
  withStack(async ({ redis }) => {
    assert.equal(await redis.hset("h", { a: "1", b: "two", c: '{"x":1}' }), 3);
    assert.deepEqual(await redis.hgetall("h"), { a: 1, b: "two", c: { x: 1 } });
    assert.equal(await redis.hget("h", "b"), "two");
    assert.equal(await redis.hgetall("nope"), null);
    assert.equal(
      await redis.zadd("z", { score: 2, member: "b" }, { score: 1, member: "a" }, { score: 3, member: "c" }),
      3,
    );
    assert.deepEqual(await redis.zrange("z", 0, -1), ["a", "b", "c"]);
    assert.deepEqual(await redis.zrange("z", 0, 0, { withScores: true }), ["a", 1]);
    assert.deepEqual(await redis.zrange("z", "(a", "+", { byLex: true }), ["b", "c"]);
    assert.equal(await redis.zscore("z", "c"), 3);
  }));

test("pipelines keep order and report errors per command", () =>
  withStack(async ({ redis, bridge }) => {
    bridge.resetCounts();
    const pipeline = redis.pipeline();
    pipeline.set("p", "1");
    pipeline.incr("p");
    pipeline.get("p");
    pipeline.lpush("p", "x"); // wrong type
    pipeline.get("absent");
    const results = await pipeline.exec({ keepErrors: true });
    assert.deepEqual(results.map((r) => r.result), ["OK", 2, 2, undefined, null]);
    assert.match(String(results[3]!.error), /WRONGTYPE/);
    assert.equal(bridge.requests, 1);
    assert.equal(bridge.commands, 5);
    const failing = redis.pipeline();
    failing.get("p");
    failing.lpush("p", "x");
    await assert.rejects(failing.exec(), /Command 2 \[ lpush \] failed: WRONGTYPE/);
  }));

test("multi runs atomically on one connection; a queueing error discards it", () =>
  withStack(async ({ redis, bridge, direct }) => {
    const tx = redis.multi();
    tx.set("t", "a");
    tx.append("t", "b");
    tx.get("t");
    tx.incr("t"); // fails at run time, the rest stays applied
    const results = await tx.exec({ keepErrors: true });
    assert.deepEqual(results.slice(0, 3).map((r) => r.result), ["OK", 2, "ab"]);
    assert.match(String(results[3]!.error), /not an integer/);
    // Many transactions at once each see their own counter values in a row.
    const batches = await Promise.all(Array.from({ length: 10 }, () => {
      const m = redis.multi();
      m.incr("c");
      m.incr("c");
      return m.exec<[number, number]>();
    }));
    for (const [first, second] of batches) assert.equal(second, first + 1);
    // A command Redis refuses while queueing (wrong arity) discards the whole transaction.
    const before = bridge.commands;
    const response = await rest(bridge, "/multi-exec", [["SET", "u", "1"], ["GET"]]);
    assert.equal(response.status, 400);
    assert.match((response.body as { error: string }).error, /^EXECABORT .*wrong number of arguments/);
    assert.equal(await direct.send(["EXISTS", "u"]), 0);
    assert.equal(bridge.commands, before + 2);
  }));

test("Lua scripts pass through: EVAL tables, SCRIPT LOAD, EVALSHA, script errors", () =>
  withStack(async ({ redis, client }) => {
    assert.deepEqual(
      await redis.eval("return {ARGV[1], 7, false, {KEYS[1], 'OK'}, redis.status_reply('OK')}", ["key"], ["x"]),
      ["x", 7, null, ["key", "OK"], "OK"],
    );
    const sha = await redis.scriptLoad("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    assert.match(sha, /^[0-9a-f]{40}$/);
    assert.equal(await redis.evalsha(sha, ["s"], [5]), 5);
    assert.equal(await redis.evalsha(sha, ["s"], ["6"]), 11);
    await assert.rejects(redis.evalsha("0".repeat(40), [], []), /NOSCRIPT/);
    await assert.rejects(redis.eval("return redis.call('NOPE')", [], []), /ERR.*(Unknown|unknown) (Redis )?command/);
    const script = client().createScript<number>("return #ARGV");
    assert.equal(await script.exec([], ["a", "b", "c"]), 3);
  }));

test("unicode, NUL and base64-looking strings round-trip in both response encodings", async () => {
  const values = ["v é 😀 \u0000 end", "\u0000", "OK", "T0s=", "", "null", "plain ascii", "ÿ\u0001\u007f"];
  for (const responseEncoding of ["base64", false] as const) {
    await withStack(async ({ redis, direct }) => {
      for (const [i, value] of values.entries()) {
        assert.equal(await redis.set(`u${i}`, value), "OK");
        assert.equal(await redis.get(`u${i}`), value, `${responseEncoding}: ${JSON.stringify(value)}`);
        assert.equal(text(await direct.send(["GET", `u${i}`])), value, "stored as UTF-8");
      }
      const pipeline = redis.pipeline();
      for (const i of values.keys()) pipeline.get(`u${i}`);
      assert.deepEqual(await pipeline.exec(), values);
      assert.deepEqual(await redis.mget(...values.keys().map((i) => `u${i}`)), values);
      const big = "é😀x".repeat(100_000);
      assert.equal(await redis.set("big", big), "OK");
      assert.equal(await redis.get("big"), big);
    }, { responseEncoding, automaticDeserialization: false });
  }
});

test("the REST protocol: encodings, number arguments, path form, errors", () =>
  withStack(async ({ bridge, direct }) => {
    const b64 = { "upstash-encoding": "base64" };
    assert.deepEqual(await rest(bridge, "/", ["SET", "n", 12.5]), { status: 200, body: { result: "OK" } });
    assert.deepEqual(await rest(bridge, "/", ["GET", "n"]), { status: 200, body: { result: "12.5" } });
    assert.deepEqual(await rest(bridge, "/", ["GET", "n"], b64), { status: 200, body: { result: btoa("12.5") } });
    // A top-level OK status stays "OK"; other statuses and strings inside arrays are encoded.
    assert.deepEqual((await rest(bridge, "/", ["SET", "n", "1"], b64)).body, { result: "OK" });
    assert.deepEqual((await rest(bridge, "/", ["PING"], b64)).body, { result: btoa("PONG") });
    assert.deepEqual((await rest(bridge, "/", ["TYPE", "n"], b64)).body, { result: btoa("string") });
    assert.deepEqual(
      (await rest(bridge, "/", ["EVAL", "return {redis.status_reply('OK'), 1, false, ARGV[1]}", 0, "é"], b64)).body,
      {
        result: [btoa("OK"), 1, null, "w6k="],
      },
    );
    assert.deepEqual((await rest(bridge, "/", ["INCRBY", "n", 9007199254740000])).body, { result: 9007199254740001 });
    // Integers past 2^53 keep every digit in the JSON.
    await direct.send(["SET", "huge", "9223372036854775806"]);
    const huge = await fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${bridge.token}` },
      body: JSON.stringify(["INCR", "huge"]),
    });
    assert.equal(await huge.text(), '{"result":9223372036854775807}');
    assert.deepEqual(await rest(bridge, "/", ["SET", "flag", true]), { status: 200, body: { result: "OK" } });
    assert.equal(text(await direct.send(["GET", "flag"])), "true");

    // Errors: 400 for a single command, inline for a pipeline; bad bodies are 400.
    const error = await rest(bridge, "/", ["NOPE"]);
    assert.equal(error.status, 400);
    assert.match((error.body as { error: string }).error, /^ERR unknown command/);
    const inline = await rest(bridge, "/pipeline", [["SET", "a", "1"], ["NOPE"], ["GET", "a"]], b64);
    assert.equal(inline.status, 200);
    const entries = inline.body as { result?: unknown; error?: string }[];
    assert.deepEqual(entries[0], { result: "OK" });
    assert.match(entries[1]!.error!, /^ERR unknown command/);
    assert.deepEqual(entries[2], { result: btoa("1") });
    for (
      const [path, body] of [["/", {}], ["/", []], ["/", [null]], ["/pipeline", []], ["/pipeline", [[
        "GET",
        {},
      ]]]] as const
    ) {
      const bad = await rest(bridge, path, body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.match((bad.body as { error: string }).error, /^ERR /);
    }
    const notJson = await fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${bridge.token}` },
      body: "[",
    });
    assert.equal(notJson.status, 400);
    await notJson.body?.cancel();

    // Commands that would change a pooled connection's state are refused.
    for (
      const command of [["MULTI"], ["SELECT", "1"], ["SUBSCRIBE", "ch"], ["CLIENT", "REPLY", "OFF"], ["HELLO", "3"]]
    ) {
      const refused = await rest(bridge, "/", command);
      assert.equal(refused.status, 400);
      assert.match((refused.body as { error: string }).error, /not available over the REST bridge/);
    }
    assert.deepEqual((await rest(bridge, "/", ["PING"])).body, { result: "PONG" }, "connections still work");

    // The path form, URL-decoded, with a binary POST body as the last argument.
    assert.deepEqual((await rest(bridge, "/set/path%2Fkey/a%20b")).body, { result: "OK" });
    assert.deepEqual((await rest(bridge, "/get/path%2Fkey")).body, { result: "a b" });
    const bytes = new Uint8Array(256).map((_, i) => i);
    assert.deepEqual((await rest(bridge, "/set/bin", bytes)).body, { result: "OK" });
    assert.deepEqual(await direct.send(["GET", "bin"]), bytes);
    assert.deepEqual((await rest(bridge, "/get/bin", undefined, b64)).body, {
      result: btoa(String.fromCharCode(...bytes)),
    });
  }));

test("authorization: a wrong or missing token is refused with 401", () =>
  withStack(async ({ bridge, redis, direct }) => {
    const refused = new Redis({ url: bridge.url, token: "wrong", retry: { retries: 0 }, enableTelemetry: false });
    await assert.rejects(refused.set("k", "v"), /Unauthorized/);
    assert.equal(await direct.send(["EXISTS", "k"]), 0);
    const missing = await fetch(bridge.url, { method: "POST", body: JSON.stringify(["PING"]) });
    assert.equal(missing.status, 401);
    assert.deepEqual(await missing.json(), { error: "Unauthorized" });
    const query = await fetch(`${bridge.url}/ping?_token=${bridge.token}`);
    assert.deepEqual(await query.json(), { result: "PONG" });
    assert.equal(await redis.ping(), "PONG", "the right token still works");
  }));

test("concurrent requests each get a connection of their own", () =>
  withStack(async ({ redis, bridge, client }) => {
    const single = client({ enableAutoPipelining: false });
    bridge.resetCounts();
    const results = await Promise.all(Array.from({ length: 50 }, () => single.incr("counter")));
    assert.deepEqual(results.toSorted((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    const pipelines = await Promise.all(Array.from({ length: 20 }, (_, i) => {
      const p = single.pipeline();
      for (let j = 0; j < 20; j++) p.echo(`${i}:${j}`);
      return p.exec<string[]>();
    }));
    for (const [i, replies] of pipelines.entries()) {
      assert.deepEqual(replies, Array.from({ length: 20 }, (_, j) => `${i}:${j}`));
    }
    assert.equal(bridge.requests, 70);
    assert.equal(bridge.commands, 450);

    // A blocked request does not hold up others: BLPOP waits on its own connection while RPUSH runs.
    const blocked = rest(bridge, "/", ["BLPOP", "queue", 5]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await single.rpush("queue", "item"), 1);
    assert.deepEqual(await blocked, { status: 200, body: { result: ["queue", "item"] } });

    // The default client auto-pipelines: concurrent commands share one /pipeline request.
    bridge.resetCounts();
    const batched = await Promise.all(Array.from({ length: 10 }, (_, i) => redis.echo(`e${i}`)));
    assert.deepEqual(batched, Array.from({ length: 10 }, (_, i) => `e${i}`));
    assert.equal(bridge.commands, 10);
    assert.ok(bridge.requests < 10, `auto-pipelined into ${bridge.requests} request(s)`);
  }));

test("faults: each kind makes the client throw, runs nothing, and is counted", () =>
  withStack(async ({ redis, bridge, client, direct }) => {
    const expected = {
      status500: /Internal Server Error/,
      garbage: /Unable to parse response body/,
      drop: /error reading a body|connection/i,
      hang: /TimeoutError|abort/i,
    } as const;
    for (const kind of ["status500", "garbage", "drop", "hang"] as const) {
      bridge.resetCounts();
      bridge.fault = { kind, count: 1 };
      // For "hang", the client needs a signal factory: with a plain signal it turns an abort into a result.
      const faulted = kind === "hang" ? client({ signal: () => AbortSignal.timeout(200) }) : redis;
      await assert.rejects(faulted.set(`f-${kind}`, "v"), expected[kind], kind);
      assert.equal(bridge.fault, null, `${kind}: cleared after one request`);
      assert.equal(await direct.send(["EXISTS", `f-${kind}`]), 0, `${kind}: nothing ran`);
      assert.equal(await redis.set(`f-${kind}`, "v"), "OK", `${kind}: then it works again`);
      assert.equal(bridge.requests, 2);
      assert.equal(bridge.commands, 1);
    }

    // Without a count, a fault lasts until cleared; it also hits pipelines and transactions.
    bridge.fault = { kind: "status500" };
    await assert.rejects(redis.get("k"), /Internal Server Error/);
    await assert.rejects(redis.pipeline().set("k", "1").exec(), /Internal Server Error/);
    await assert.rejects(redis.multi().set("k", "1").exec(), /Internal Server Error/);
    assert.deepEqual(bridge.fault, { kind: "status500" });
    bridge.fault = null;
    assert.equal(await redis.get("k"), null);

    // A hanging request left open is cut off when the bridge stops.
    bridge.fault = { kind: "hang" };
    const pending = fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${bridge.token}` },
      body: '["PING"]',
    }).then((response) => response.text());
    await new Promise((resolve) => setTimeout(resolve, 50));
    await bridge.stop();
    await assert.rejects(pending);
  }));

test("RespConnection: pipelined replies in order, binary-safe, errors as values, nil and nested arrays", () =>
  withStack(async ({ direct }) => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
    const replies = await Promise.all([
      direct.send(["SET", new Uint8Array([0, 13, 10, 255]), bytes]),
      direct.send(["GET", new Uint8Array([0, 13, 10, 255])]),
      direct.send(["GET", "missing"]),
      direct.send(["INCR", new Uint8Array([0, 13, 10, 255])]),
      direct.send(["RPUSH", "list", "a", "", "c"]),
      direct.send(["EVAL", "return {1, {'two', {3}}, false, redis.error_reply('inner')}", "0"]),
      direct.send(["PING", "é"]),
      direct.send(["PING"]),
    ]);
    assert.equal(replies[0], "OK");
    assert.deepEqual(replies[1], bytes);
    assert.equal(replies[2], null);
    assert.ok(isRespError(replies[3]!) && /not an integer/.test(replies[3].error));
    assert.equal(replies[4], 3);
    const nested = replies[5] as RespValue[];
    assert.equal(nested[0], 1);
    assert.deepEqual((nested[1] as RespValue[]).map((v) => Array.isArray(v) ? v : text(v)), ["two", [3]]);
    assert.equal(nested[2], null);
    assert.ok(isRespError(nested[3]!) && nested[3].error.endsWith("inner"));
    assert.equal(text(replies[6]!), "é");
    assert.equal(replies[7], "PONG");
    const many = await Promise.all(Array.from({ length: 2000 }, (_, i) => direct.send(["ECHO", `m${i}`])));
    assert.deepEqual(many.map(text), Array.from({ length: 2000 }, (_, i) => `m${i}`));
  }));

test("RespConnection: nil array from an aborted WATCH transaction; closed connections reject", async () => {
  const server = await startRedisServer();
  const a = await RespConnection.connect(server.port);
  const b = await RespConnection.connect(server.port);
  try {
    assert.equal(await a.send(["WATCH", "w"]), "OK");
    assert.equal(await b.send(["SET", "w", "changed"]), "OK");
    assert.equal(await a.send(["MULTI"]), "OK");
    assert.equal(await a.send(["SET", "w", "mine"]), "QUEUED");
    assert.equal(await a.send(["EXEC"]), null);
    assert.equal(text(await a.send(["GET", "w"])), "changed");
  } finally {
    await a.close();
    await b.close();
    await server.stop();
  }
  assert.equal(a.closed, true);
  await assert.rejects(a.send(["PING"]), /closed/);
});

test("startRedisServer: an explicit port, and stop() is idempotent", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const server = await startRedisServer({ port });
  try {
    assert.equal(server.port, port);
    assert.equal(server.hostname, "127.0.0.1");
    const connection = await RespConnection.connect(port);
    const appendonly = await connection.send(["CONFIG", "GET", "appendonly"]) as RespValue[];
    assert.deepEqual(appendonly.map(text), ["appendonly", "no"]);
    const config = await connection.send(["CONFIG", "GET", "save"]) as RespValue[];
    assert.deepEqual(config.map(text), ["save", ""]);
    await connection.close();
    // The port is taken now: a second server on it fails with the server's own words.
    await assert.rejects(startRedisServer({ port }), /exited before accepting connections/);
  } finally {
    await server.stop();
    await server.stop();
  }
});
