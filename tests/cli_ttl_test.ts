// `--ttl` (ls, show, export, copy, stats) and `purge`, as subprocesses, on every kind of backend the CLI opens.
import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { openStorage, type OpenStorageOptions } from "../backends/open.ts";
import type { Session, SessionMode } from "../session/types.ts";
import { cli, ok } from "./support/cli.ts";
import { startHranaServer } from "./support/hrana_server.ts";
import { skipWithoutPostgres, startPostgresServer } from "./support/postgres_server.ts";
import { tempDir } from "./support/temp.ts";
import { redisServerAvailable, startRedisServer, startUpstashBridge } from "./support/upstash_bridge.ts";

const DAY = 86_400_000;

/**
 * Agent sessions last written 40 days ago ("old", with two runs), 20 days ago ("mid") and now ("new", one run), and a
 * team session written 40 days ago ("old-team"), all imported with those times.
 */
async function seed(url: string, options: OpenStorageOptions = {}): Promise<void> {
  const now = Date.now();
  const at = (days: number) => ({ createdAt: now - days * DAY - 1000, updatedAt: now - days * DAY, version: 1 });
  {
    await using agent = await openStorage(url, options);
    await agent.importSessions([
      {
        session: { sessionId: "old", userId: "ada", ...at(40) },
        runs: [{ seq: 1, createdAt: now - 41 * DAY, run: { q: 1 } }, { seq: 2, createdAt: now - 40 * DAY, run: {} }],
      },
      { session: { sessionId: "mid", userId: "bob", ...at(20) }, runs: [] },
      { session: { sessionId: "new", userId: "ada", ...at(0) }, runs: [{ seq: 1, createdAt: now, run: { a: 2 } }] },
    ] as never);
  }
  await using team = await openStorage(url, { ...options, mode: "team" });
  await team.importSessions([{ session: { sessionId: "old-team", ...at(40) }, runs: [] }] as never);
}

/** Ids of every session of `mode` (no TTL), sorted. */
async function ids(url: string, mode: SessionMode = "agent"): Promise<string[]> {
  await using storage = await openStorage(url, { mode });
  return (await storage.getAllSessions()).map((s: Session) => s.sessionId).sort();
}

/** Ids listed by `ls --json` with `args`. */
async function listed(cwd: string, url: string, ...args: string[]): Promise<string[]> {
  return JSON.parse((await ok(cwd, "ls", url, "--json", ...args)).stdout).sessions.map((s: Session) => s.sessionId)
    .sort();
}

for (const kind of ["file", "json"] as const) {
  const urlIn = (dir: string, name: string) => kind === "file" ? `file:${dir}/${name}.db` : `json:${dir}/${name}`;

  Deno.test(`cli --ttl (${kind}:): ls, show, export and copy leave out sessions expired under it`, async () => {
    const d = await tempDir(`cli-ttl-${kind}`);
    try {
      const url = urlIn(d.path, "s");
      await seed(url);
      assert.deepEqual(await listed(d.path, url), ["mid", "new", "old"], "without --ttl every session is live");
      assert.deepEqual(await listed(d.path, url, "--ttl", "30d"), ["mid", "new"]);
      assert.deepEqual(await listed(d.path, url, "--ttl", "2w"), ["new"]);
      assert.deepEqual(await listed(d.path, url, "--ttl", "20d1h"), ["mid", "new"]);
      const table = (await ok(d.path, "ls", url, "--ttl", "30d")).stdout;
      assert.doesNotMatch(table, /^old /m);
      assert.match(table, /2 session\(s\)\n$/);

      const hidden = await cli(d.path, ["show", url, "old", "--ttl", "30d"]);
      assert.equal(hidden.code, 1);
      assert.equal(hidden.stderr, 'agentstate: session "old" not found (or expired under --ttl 30d)\n');
      assert.equal(JSON.parse((await ok(d.path, "show", url, "old", "--json")).stdout).runCount, 2);
      assert.equal(JSON.parse((await ok(d.path, "show", url, "new", "--ttl", "30d", "--json")).stdout).runCount, 1);

      const exported = (await ok(d.path, "export", url, "--ttl", "30d", "-q")).stdout.trim().split("\n");
      assert.deepEqual(exported.slice(1).map((l) => JSON.parse(l).session.sessionId).sort(), ["mid", "new"]);

      const target = urlIn(d.path, "copy");
      assert.match((await ok(d.path, "copy", url, target, "--ttl", "30d", "-q")).stdout, /^copied 2, skipped 0/);
      assert.deepEqual(await ids(target), ["mid", "new"]);
    } finally {
      await d.remove();
    }
  });

  Deno.test(`cli purge (${kind}:): --dry-run counts, purge deletes expired sessions with their runs`, async () => {
    const d = await tempDir(`cli-purge-${kind}`);
    try {
      const url = urlIn(d.path, "s");
      await seed(url);
      const dry = await ok(d.path, "purge", url, "--ttl", "30d", "--dry-run");
      assert.match(dry.stdout, /^agent: would delete 1 session\(s\)\nteam: would delete 1 session\(s\)\n/);
      assert.match(dry.stdout, /workflow: would delete 0 session\(s\)\nwould delete 2 session\(s\) not written since /);
      assert.match(dry.stdout, /\(--ttl 30d\); dry run: nothing was deleted\n$/);
      assert.deepEqual(await ids(url), ["mid", "new", "old"], "a dry run deletes nothing");
      assert.deepEqual(await ids(url, "team"), ["old-team"]);

      const purged = await ok(d.path, "purge", url, "--ttl", "30d");
      assert.match(purged.stdout, /^agent: deleted 1 session\(s\)\nteam: deleted 1 session\(s\)\n/);
      assert.match(purged.stdout, /\ndeleted 2 session\(s\) not written since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
      assert.deepEqual(await ids(url), ["mid", "new"]);
      assert.deepEqual(await ids(url, "team"), []);
      // The runs went with their session: nothing of "old" is left in the store.
      if (kind === "file") {
        const client = createClient({ url });
        try {
          const rows = await client.execute("SELECT count(*) AS n FROM agent_sessions_runs");
          assert.equal(Number(rows.rows[0]!.n), 1, "only the run of the live session is left");
        } finally {
          client.close();
        }
      } else {
        const files = [];
        for await (const entry of Deno.readDir(`${d.path}/s/agent`)) files.push(entry.name);
        assert.ok(!files.some((f) => f.startsWith("old.") || f === "old"), files.join(", "));
      }
      assert.match((await ok(d.path, "purge", url, "--ttl", "30d", "-n")).stdout, /would delete 0 session\(s\) not/);
      const onlyAgent = await ok(d.path, "purge", url, "--ttl", "10d", "--mode", "agent");
      assert.equal(onlyAgent.stdout.split("\n")[0], "agent: deleted 1 session(s)");
      assert.deepEqual(await ids(url), ["new"]);
    } finally {
      await d.remove();
    }
  });
}

Deno.test("cli --ttl and purge: bad durations and a missing --ttl are usage errors naming the value", async () => {
  const d = await tempDir("cli-ttl-errors");
  try {
    await seed(`file:${d.path}/s.db`);
    const bad = ["30", "30days", "1.5h", "-5d", "1d1d", "1m1h", "0d", "0ms", " 30d", "30D", "", "99999999999999w"];
    for (const value of bad) {
      for (const command of [["ls", "file:s.db"], ["purge", "file:s.db"], ["export", "file:s.db"]]) {
        const result = await cli(d.path, [...command, `--ttl=${value}`]);
        assert.equal(result.code, 2, `${command[0]} --ttl ${JSON.stringify(value)}: ${result.stderr}`);
        assert.match(result.stderr, /^agentstate: --ttl [^\n]+\n$/, value);
        if (value !== "" && !/^0/.test(value) && value.length < 10) assert.ok(result.stderr.includes(`"${value}"`));
      }
    }
    assert.match((await cli(d.path, ["ls", "file:s.db", "--ttl", "30"])).stderr, /such as 30d, 12h, 1h30m or 500ms/);
    assert.match((await cli(d.path, ["ls", "file:s.db", "--ttl", "0s"])).stderr, /must be longer than 0/);
    const missing = await cli(d.path, ["purge", "file:s.db"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^agentstate: purge needs --ttl/);
    assert.deepEqual(await ids(`file:${d.path}/s.db`), ["mid", "new", "old"], "nothing was deleted");
    assert.match((await ok(d.path, "purge", "--help")).stdout, /^usage: agentstate purge <url> --ttl D \[--dry-run\]/);
  } finally {
    await d.remove();
  }
});

Deno.test({
  name: "cli purge and --ttl on remote backends: libSQL over HTTP, Redis, Upstash REST, PostgreSQL",
  ignore: !await redisServerAvailable() && Deno.env.get("CI") !== "true",
  async fn() {
    const d = await tempDir("cli-purge-remote");
    const stack = new AsyncDisposableStack();
    try {
      await Deno.writeFile(`${d.path}/h.db`, new Uint8Array());
      const hrana = await startHranaServer({ path: `${d.path}/h.db`, token: "t" });
      stack.defer(() => hrana.stop());
      const redis = await startRedisServer();
      stack.defer(() => redis.stop());
      const bridge = await startUpstashBridge({ redisPort: redis.port });
      stack.defer(() => bridge.stop());
      const targets: { url: string; options: OpenStorageOptions; args: string[] }[] = [
        { url: hrana.url, options: { token: "t" }, args: ["--token", "t"] },
        { url: `redis://127.0.0.1:${redis.port}`, options: { prefix: "cli" }, args: ["--prefix", "cli"] },
        {
          url: `upstash+${bridge.url}`,
          options: { token: bridge.token, prefix: "up" },
          args: ["--token", bridge.token, "--prefix", "up"],
        },
      ];
      if (!await skipWithoutPostgres("cli purge on PostgreSQL")) {
        const postgres = await startPostgresServer();
        stack.defer(() => postgres.dispose());
        targets.push({ url: postgres.url, options: {}, args: [] });
      }
      for (const { url, options, args } of targets) {
        const at = url.replace(/\/\/[^@]*@/, "//");
        await seed(url, options);
        assert.deepEqual(await listed(d.path, url, "--ttl", "30d", ...args), ["mid", "new"], at);
        const dry = await ok(d.path, "purge", url, "--ttl", "30d", "-n", ...args);
        assert.match(dry.stdout, /^agent: would delete 1 session\(s\)\nteam: would delete 1 session\(s\)\n/, at);
        const purged = await ok(d.path, "purge", url, "--ttl", "30d", ...args);
        assert.match(purged.stdout, /^agent: deleted 1 session\(s\)\nteam: deleted 1 session\(s\)\n/, at);
        assert.deepEqual(await listed(d.path, url, ...args), ["mid", "new"], at);
        assert.match((await ok(d.path, "purge", url, "--ttl", "30d", ...args)).stdout, /\ndeleted 0 session/, at);
      }
    } finally {
      await stack.disposeAsync();
      await d.remove();
    }
  },
});
