import assert from "node:assert/strict";
import { LibsqlStorage } from "../backends/libsql.ts";
import { openStorage } from "../backends/open.ts";
import type { RunRecord, Session } from "../session/types.ts";
import { writeAgnoJsonDir, writeAgnoSqlite } from "./support/agno_fixtures.ts";
import { tempDir } from "./support/temp.ts";

const main = new URL("../cli/main.ts", import.meta.url).pathname;

async function cli(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    cwd,
    env: { NO_COLOR: "1" },
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

async function everything(url: string): Promise<{ session: Session; runs: RunRecord[] }[]> {
  await using storage = await openStorage(url);
  const out = [];
  for (const session of await storage.getAllSessions()) {
    out.push({ session, runs: (await storage.getRuns(session.sessionId, { limit: 1000 })).runs });
  }
  return out.sort((a, b) => a.session.sessionId < b.session.sessionId ? -1 : 1);
}

async function seed(path: string, count: number): Promise<void> {
  await using storage = new LibsqlStorage({ url: `file:${path}` });
  for (let i = 0; i < count; i += 1000) {
    await storage.importSessions(
      Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({
        session: {
          sessionId: `s${i + k}/é`,
          userId: `u${(i + k) % 10}`,
          createdAt: 1000 + i + k,
          updatedAt: 5000 + i + k,
          version: 1 + ((i + k) % 4),
          memory: { n: i + k },
          agentId: "a",
        },
        runs: (i + k) % 7 === 0
          ? [{ seq: 1, createdAt: 9, run: { q: "hi" } }, { seq: 2, createdAt: 10, run: { a: "yo" } }]
          : [],
      })) as never,
    );
  }
}

Deno.test("cli: libSQL file → JSON dir → NDJSON → libSQL file keeps sessions and runs identical", async () => {
  const d = await tempDir("cli-roundtrip");
  try {
    await seed(`${d.path}/a.db`, 60);
    assert.equal((await cli(d.path, "copy", "file:a.db", "json:./dir", "-q")).code, 0);
    const exported = await cli(d.path, "export", "json:./dir", "--out", "x.ndjson", "-q");
    assert.equal(exported.code, 0, exported.stderr);
    const lines = (await Deno.readTextFile(`${d.path}/x.ndjson`)).trim().split("\n");
    assert.equal(lines.length, 61, "a header and one line per session");
    const imported = await cli(d.path, "import", "file:c.db", "--in", "x.ndjson");
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /imported 60, skipped 0/);
    const original = await everything(`file:${d.path}/a.db`);
    assert.equal(original.length, 60);
    assert.deepEqual(await everything(`file:${d.path}/c.db`), original);
    assert.deepEqual(await everything(`json:${d.path}/dir`), original);
    const ls = await cli(d.path, "ls", "file:c.db", "--user", "u3", "--limit", "2");
    assert.match(ls.stdout, /^ID +USER +AGENTID/);
    assert.match(ls.stdout, /2 session\(s\); next page: --cursor /);
  } finally {
    await d.remove();
  }
});

Deno.test("cli: copy of 10 000 sessions libSQL → JSON and back, resumable", async () => {
  const d = await tempDir("cli-copy");
  try {
    await seed(`${d.path}/big.db`, 10_000);
    let started = performance.now();
    const toJson = await cli(d.path, "copy", "file:big.db", "json:./big", "-q");
    const toJsonMs = performance.now() - started;
    assert.equal(toJson.code, 0, toJson.stderr);
    assert.match(toJson.stdout, /copied 10000, skipped 0/);
    const again = await cli(d.path, "copy", "file:big.db", "json:./big", "-q");
    assert.match(again.stdout, /copied 0, skipped 10000/, "a re-run copies nothing twice");
    started = performance.now();
    const back = await cli(d.path, "copy", "json:./big", "file:back.db", "-q");
    const backMs = performance.now() - started;
    assert.match(back.stdout, /copied 10000, skipped 0/);
    const stats = await cli(d.path, "stats", "file:back.db", "--json");
    assert.equal(JSON.parse(stats.stdout).agent.sessions, 10_000);
    console.log(
      `copy 10 000 sessions: libSQL → JSON ${Math.round(toJsonMs)} ms, JSON → libSQL ${Math.round(backMs)} ms`,
    );
  } finally {
    await d.remove();
  }
});

Deno.test("cli: import-agno from an agno SQLite database and from an agno JSON directory", async () => {
  const d = await tempDir("cli-agno");
  try {
    await writeAgnoSqlite(`${d.path}/agno.db`);
    await writeAgnoJsonDir(`${d.path}/agno-json`);
    for (const source of ["agno.db", "agno-json"]) {
      const target = `file:${source}.out.db`;
      const result = await cli(d.path, "import-agno", source, target, "--mode", "agent");
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /imported 2 agno agent session\(s\)/);
      await using storage = await openStorage(`file:${d.path}/${source}.out.db`);
      const one = (await storage.read("agno-1"))!;
      assert.deepEqual(
        [one.userId, one.sessionName, one.agentId, one.createdAt, one.updatedAt, one.version],
        ["ada", "Research chat", "research-agent", 1_700_000_000_000, 1_700_000_500_000, 1],
      );
      assert.deepEqual(one.memory, { summary: null });
      assert.deepEqual(one.agentData, { name: "Researcher", model: { provider: "OpenAI" } });
      assert.deepEqual((await storage.getRuns("agno-1")).runs.map((r) => r.run), [
        { input: "hi", content: "hello" },
        { input: "more", content: "sure" },
      ]);
      const two = (await storage.read("agno-2"))!;
      assert.deepEqual([two.userId, two.teamSessionId, two.updatedAt], [null, "team-9", 1_700_000_100_000]);
      assert.equal(two.agentData, null);
      assert.deepEqual(
        two.extraData?.agno,
        source === "agno.db" ? { agent_data: "not json at all", legacy_flag: null } : {
          agent_data: "not json at all",
        },
      );
      if (source === "agno.db") assert.deepEqual(one.extraData, { agno: { legacy_flag: "yes" } });
    }
  } finally {
    await d.remove();
  }
});

Deno.test("cli: usage errors exit 2, failures exit 1 with one line, bad NDJSON imports nothing", async () => {
  const d = await tempDir("cli-errors");
  try {
    const help = await cli(d.path, "copy", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: agentstate copy <from-url> <to-url>/);
    for (
      const args of [["ls", "ftp://nope"], ["ls", "file:x.db", "--bogus"], ["frobnicate"], [
        "ls",
        "memory:",
        "--sort",
        "x",
      ]]
    ) {
      const result = await cli(d.path, ...args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^agentstate: .+\n$/);
    }
    const missing = await cli(d.path, "import", "file:t.db", "--in", "nope.ndjson");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^agentstate: .*nope\.ndjson.*\n$/);
    const good = JSON.stringify({ session: { sessionId: "ok", createdAt: 1, updatedAt: 2, version: 1 }, runs: [] });
    await Deno.writeTextFile(
      `${d.path}/bad.ndjson`,
      `${good}\n{"session": {"sessionId": "x", "createdAt": 1,\n${good.replace("ok", "ok2")}\n`,
    );
    const bad = await cli(d.path, "import", "file:t.db", "--in", "bad.ndjson");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /line 2/);
    assert.deepEqual(await everything(`file:${d.path}/t.db`), [], "nothing imported");
    const skip = await cli(d.path, "import", "file:t.db", "--in", "bad.ndjson", "--on-conflict", "skip");
    assert.equal(skip.code, 1, "still reports the bad line");
    assert.deepEqual((await everything(`file:${d.path}/t.db`)).map((e) => e.session.sessionId), ["ok", "ok2"]);
    const notFound = await cli(d.path, "show", "file:t.db", "missing");
    assert.equal(notFound.code, 1);
  } finally {
    await d.remove();
  }
});
