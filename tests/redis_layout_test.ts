/**
 * Layout 3 (every key under the hash tag `{<prefix>}:<mode>:`) and the move
 * from layout 2 (the same keys under `<prefix>:<mode>:`, as every release
 * before it wrote them): keys written by hand in layout 2 read over REST and
 * TCP after the move, TTLs kept, other prefixes and modes left alone; a
 * thousand sessions moved in batches by two storages at once; the CLI's
 * `migrate`; a newer layout refused.
 */
import assert from "node:assert/strict";
import { createClient } from "@redis/client";
import { RedisStorage } from "../backends/redis.ts";
import { LAYOUT_VERSION, MIGRATE_BATCH } from "../engines/redis/layout.ts";
import { StorageError } from "../session/errors.ts";
import { skipRedis } from "./support/backends.ts";
import { ok } from "./support/cli.ts";
import { startRedisServer, startUpstashBridge } from "./support/upstash_bridge.ts";
import { open as openUpstash } from "./support/upstash_stack.ts";

const ignore = await skipRedis();

async function connect(port: number) {
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  await client.connect();
  return client;
}
type Client = Awaited<ReturnType<typeof connect>>;

/** Layout 2 of one session, as released: the hash, its run list and key hash, its index entries. */
async function writeLayout2(
  redis: Client,
  P: string,
  s: { id: string; enc: string; user?: string; entity?: string; created: number; updated: number; runs: string[] },
) {
  const pad = (n: number) => String(n).padStart(15, "0");
  const data = P.endsWith(":team:") ? "teamData" : "agentData";
  const d = { teamSessionId: null, memory: { from: "layout 2" }, sessionData: null, extraData: null, [data]: null };
  await redis.hSet(`${P}s:${s.enc}`, {
    c: pad(s.created),
    m: pad(s.updated),
    v: "2",
    rc: String(s.runs.length),
    d: JSON.stringify(d),
    ...(s.user ? { u: "=" + s.user } : {}),
    ...(s.entity ? { e: "=" + s.entity } : {}),
  });
  if (s.runs.length > 0) {
    await redis.rPush(
      `${P}r:${s.enc}`,
      s.runs.map((key, i) =>
        `{"seq":${i + 1},"createdAt":${s.created},"digest":"d${i}","key":${JSON.stringify(key)},"run":{"n":${i + 1}}}`
      ),
    );
    await redis.hSet(`${P}k:${s.enc}`, Object.fromEntries(s.runs.map((key, i) => [key, String(i + 1)])));
  }
  const member = (t: number) => `${pad(t)}:${s.id}`;
  await redis.zAdd(`${P}x:c`, { score: 0, value: member(s.created) });
  await redis.zAdd(`${P}x:u`, { score: 0, value: member(s.updated) });
  for (
    const [kind, owner, t] of [["uc", s.user, s.created], ["uu", s.user, s.updated], ["ec", s.entity, s.created], [
      "eu",
      s.entity,
      s.updated,
    ]] as const
  ) {
    if (owner === undefined) continue;
    await redis.zAdd(`${P}x:${kind}:${owner}`, { score: 0, value: member(t) });
    await redis.sAdd(`${P}x:keys`, `${P}x:${kind}:${owner}`);
  }
}

const keysOf = async (redis: Client, pattern: string) => (await redis.keys(pattern)).sort();

Deno.test({
  name: "Redis layout 2 keys (untagged) are moved under the hash tag on first use and read over REST and TCP",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const bridge = await startUpstashBridge({ redisPort: server.port });
    const redis = await connect(server.port);
    try {
      await writeLayout2(redis, "app:agent:", {
        id: "s 1",
        enc: "s%201",
        user: "ada",
        entity: "bot",
        created: 1000,
        updated: 2000,
        runs: ["q1", "a1"],
      });
      await writeLayout2(redis, "app:agent:", { id: "t", enc: "t", created: 1500, updated: 1600, runs: [] });
      await redis.pExpire("app:agent:s:t", 600_000);
      await redis.hSet("app:agent:o", "op-1", '["ok"]');
      await redis.zAdd("app:agent:ot", { score: Date.now(), value: "op-1" });
      await writeLayout2(redis, "app:team:", { id: "w", enc: "w", created: 1, updated: 1, runs: [] });
      await writeLayout2(redis, "other:agent:", { id: "x", enc: "x", created: 1, updated: 1, runs: [] });
      const before = await keysOf(redis, "app:agent:*");
      assert.equal(before.length, 13);

      const rest = openUpstash(bridge, { prefix: "app" });
      const old = await rest.read("s 1");
      assert.deepEqual(
        [old?.userId, old?.agentId, old?.memory, old?.version, old?.createdAt, old?.updatedAt],
        ["ada", "bot", { from: "layout 2" }, 2, 1000, 2000],
      );
      assert.deepEqual(await keysOf(redis, "app:agent:*"), [], "every layout 2 key of the storage was moved");
      assert.deepEqual(
        await keysOf(redis, "{app}:agent:*"),
        before.map((k) => k.replace("app:agent:", "{app}:agent:")).concat("{app}:agent:layout").sort(),
        "to the same names under the tag, plus the marker",
      );
      assert.equal(await redis.get("{app}:agent:layout"), String(LAYOUT_VERSION));
      const ttl = await redis.pTTL("{app}:agent:s:t");
      assert.ok(ttl > 500_000 && ttl <= 600_000, `the TTL moved with the key: ${ttl}`);
      assert.equal(await redis.hGet("{app}:agent:o", "op-1"), '["ok"]');
      assert.equal((await keysOf(redis, "app:team:*")).length, 3, "another mode is moved by its own storage");
      assert.equal((await keysOf(redis, "other:agent:*")).length, 3, "another prefix is left alone");

      assert.equal((await rest.getRun("s 1", "a1"))?.seq, 2);
      assert.deepEqual((await rest.listSessions({ userId: "ada" })).sessions.map((s) => s.sessionId), ["s 1"]);
      assert.deepEqual((await rest.listSessions({ entityId: "bot" })).sessions.map((s) => s.sessionId), ["s 1"]);
      assert.deepEqual((await rest.listSessions({ sortBy: "updatedAt" })).sessions.map((s) => s.sessionId), [
        "s 1",
        "t",
      ]);
      assert.deepEqual(
        await rest.appendRuns("s 1", [{ n: 3 }], { userId: "ada", keys: ["q2"] }),
        { version: 3, runCount: 3 },
      );
      await using tcp = new RedisStorage({ url: `redis://127.0.0.1:${server.port}`, prefix: "app" });
      assert.deepEqual((await tcp.getRuns("s 1")).runs.map((r) => [r.seq, r.key]), [[1, "q1"], [2, "a1"], [3, "q2"]]);
      await using team = new RedisStorage({ url: `redis://127.0.0.1:${server.port}`, prefix: "app", mode: "team" });
      assert.equal((await team.read("w"))?.version, 2);
      assert.deepEqual(await keysOf(redis, "app:team:*"), []);
    } finally {
      redis.destroy();
      await bridge.stop();
      await server.stop();
    }
  },
});

Deno.test({
  name: "Redis layout 2 with more sessions and indexes than a batch: two storages opening at once move it all once",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const redis = await connect(server.port);
    try {
      const n = 2 * MIGRATE_BATCH + 234;
      const users = MIGRATE_BATCH + 100; // 2 indexes per user: more than two batches of indexes
      for (let i = 0; i < n; i++) {
        const id = `s${i}`;
        await writeLayout2(redis, "vol:agent:", {
          id,
          enc: id,
          user: `u${i % users}`,
          created: 1000 + i,
          updated: 5000 + i,
          runs: i % 3 === 0 ? [`k${i}`] : [],
        });
      }
      const url = `redis://127.0.0.1:${server.port}`;
      await using a = new RedisStorage({ url, prefix: "vol" });
      await using b = new RedisStorage({ url, prefix: "vol" });
      const [fromA, fromB] = await Promise.all([a.read("s7"), b.read(`s${n - 1}`)]);
      assert.equal(fromA?.userId, "u7");
      assert.equal(fromB?.createdAt, 1000 + n - 1);
      assert.deepEqual(await keysOf(redis, "vol:agent:*"), []);
      assert.equal((await a.getAllSessionIds()).length, n);
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { sessions: { sessionId: string }[]; nextCursor: string | null } = await b.listSessions({
          limit: 100,
          sortBy: "updatedAt",
          order: "asc",
          ...(cursor ? { cursor } : {}),
        });
        ids.push(...page.sessions.map((s) => s.sessionId));
        cursor = page.nextCursor;
      } while (cursor);
      assert.deepEqual(ids, Array.from({ length: n }, (_, i) => `s${i}`));
      assert.deepEqual((await a.listSessions({ userId: "u3" })).sessions.map((s) => s.sessionId), [
        `s${3 + 2 * users}`,
        `s${3 + users}`,
        "s3",
      ]);
      assert.equal(await redis.sCard("{vol}:agent:x:keys"), 2 * users);
      assert.equal((await a.getRun(`s${3 * 100}`, "k300"))?.seq, 1);
    } finally {
      redis.destroy();
      await server.stop();
    }
  },
});

Deno.test({
  name: "Redis layout: a newer layout version is refused with both versions named; drop removes the marker",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const redis = await connect(server.port);
    try {
      const url = `redis://127.0.0.1:${server.port}`;
      await redis.set("{new}:agent:layout", "4");
      await using newer = new RedisStorage({ url, prefix: "new" });
      await assert.rejects(
        newer.read("a"),
        (e) => e instanceof StorageError && /layout version 4; this release reads 3/.test(e.message),
      );
      await using fresh = new RedisStorage({ url, prefix: "fresh" });
      await fresh.create();
      assert.equal(await redis.get("{fresh}:agent:layout"), "3", "create() records the layout");
      await fresh.upsert({ sessionId: "a" });
      await fresh.drop();
      assert.deepEqual(await keysOf(redis, "{fresh}*"), []);
      await fresh.upsert({ sessionId: "b" });
      assert.equal(await redis.get("{fresh}:agent:layout"), "3", "recorded again after drop");
    } finally {
      redis.destroy();
      await server.stop();
    }
  },
});

Deno.test({
  name: "Redis layout: `agentstate migrate redis://… --prefix` moves layout 2 keys of that prefix and mode",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const redis = await connect(server.port);
    try {
      await writeLayout2(redis, "cli:agent:", { id: "a", enc: "a", user: "ada", created: 1, updated: 2, runs: ["k"] });
      const url = `redis://127.0.0.1:${server.port}`;
      const { stdout } = await ok(Deno.cwd(), "migrate", url, "--prefix", "cli");
      assert.match(stdout, /redis \(agent\): layout created and current/);
      assert.deepEqual(await keysOf(redis, "cli:*"), []);
      assert.equal(await redis.get("{cli}:agent:layout"), "3");
      assert.match((await ok(Deno.cwd(), "show", url, "a", "--prefix", "cli")).stdout, /ada/);
    } finally {
      redis.destroy();
      await server.stop();
    }
  },
});

Deno.test({
  name: "Redis layout: a user whose ACL reaches only its hash tag (~{tenant}:*) opens the storage",
  ignore,
  async fn() {
    const server = await startRedisServer();
    const redis = await connect(server.port);
    try {
      await redis.sendCommand(["ACL", "SETUSER", "tenant", "on", ">t-pass", "~{tenant}:*", "+@all"]);
      await using storage = new RedisStorage({
        url: `redis://tenant:t-pass@127.0.0.1:${server.port}`,
        prefix: "tenant",
      });
      await storage.upsert({ sessionId: "a", userId: "ada" });
      assert.deepEqual((await storage.listSessions({ userId: "ada" })).sessions.map((s) => s.sessionId), ["a"]);
      assert.equal(await redis.get("{tenant}:agent:layout"), null, "the move is left to a user who can see old keys");
      await using other = new RedisStorage({ url: `redis://tenant:t-pass@127.0.0.1:${server.port}`, prefix: "other" });
      await assert.rejects(other.read("a"), (e) => e instanceof StorageError && /NOPERM/.test(e.message));
    } finally {
      redis.destroy();
      await server.stop();
    }
  },
});
