import assert from "node:assert/strict";
import { LibsqlStorage } from "../backends/libsql.ts";
import { openStorage } from "../backends/open.ts";
import type { RunRecord, Session, SessionMode, TeamSession } from "../session/types.ts";
import { writeAgnoJsonDir, writeAgnoSqlite } from "./support/agno_fixtures.ts";
import { cli, main, ok } from "./support/cli.ts";
import { tempDir } from "./support/temp.ts";

/** Every session of a storage with its runs, by id. */
async function everything(
  url: string,
  mode: SessionMode = "agent",
): Promise<{ session: Session; runs: RunRecord[] }[]> {
  await using storage = await openStorage(url, { mode });
  const out = [];
  for (const session of await storage.getAllSessions()) {
    out.push({ session, runs: (await storage.getRuns(session.sessionId, { limit: 1000 })).runs });
  }
  return out.sort((a, b) => a.session.sessionId < b.session.sessionId ? -1 : 1);
}

/** Fills a libSQL file with `count` agent sessions (every 7th with two runs) via `importSessions`. */
async function seed(path: string, count: number): Promise<void> {
  await using storage = new LibsqlStorage({ url: `file:${path}` });
  for (let i = 0; i < count; i += 1000) {
    await storage.importSessions(
      Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({
        session: {
          sessionId: `s${i + k}/é`,
          userId: `u${(i + k) % 10}`,
          sessionName: (i + k) % 3 === 0 ? `name ${i + k}` : null,
          createdAt: 1_000 + i + k,
          updatedAt: 50_000 + i + k,
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
    assert.match((await ok(d.path, "copy", "file:a.db", "json:./dir", "-q")).stdout, /copied 60, skipped 0/);
    await ok(d.path, "export", "json:./dir", "--out", "x.ndjson", "-q");
    const lines = (await Deno.readTextFile(`${d.path}/x.ndjson`)).trim().split("\n");
    assert.equal(lines.length, 61, "a header and one line per session");
    assert.deepEqual(JSON.parse(lines[0]!), { agentstate: "export", version: 1, mode: "agent" });
    assert.deepEqual(Object.keys(JSON.parse(lines[1]!)), ["session", "runs"]);
    const imported = await ok(d.path, "import", "file:c.db", "--in", "x.ndjson");
    assert.match(imported.stdout, /imported 60, skipped 0/);
    const original = await everything(`file:${d.path}/a.db`);
    assert.equal(original.length, 60);
    assert.equal(original.filter((e) => e.runs.length === 2).length, 9);
    assert.deepEqual(await everything(`json:${d.path}/dir`), original);
    assert.deepEqual(await everything(`file:${d.path}/c.db`), original);
    // stdout export piped into a stdin import (one pass: --on-conflict skip).
    const piped = await ok(d.path, "export", "file:c.db", "-q");
    assert.match(
      (await cli(d.path, ["import", "file:e.db", "--on-conflict", "skip"], piped.stdout)).stdout,
      /imported 60/,
    );
    assert.deepEqual(await everything(`file:${d.path}/e.db`), original);
  } finally {
    await d.remove();
  }
});

Deno.test("cli: team sessions round trip; import takes the mode from the export's header", async () => {
  const d = await tempDir("cli-team");
  try {
    await using team = await openStorage(`file:${d.path}/t.db`, { mode: "team" });
    await team.upsert({ sessionId: "t1", teamId: "crew", teamData: { size: 3 }, userId: "ada" });
    await team.appendRuns("t1", [{ step: 1 }], { userId: "ada" });
    await ok(d.path, "export", "file:t.db", "--mode", "team", "--out", "t.ndjson", "-q");
    await ok(d.path, "import", "json:./tj", "--in", "t.ndjson", "-q");
    assert.deepEqual(await everything(`json:${d.path}/tj`, "team"), await everything(`file:${d.path}/t.db`, "team"));
    assert.deepEqual(await everything(`json:${d.path}/tj`, "agent"), []);
    const clash = await cli(d.path, ["import", "file:x.db", "--in", "t.ndjson", "--mode", "agent"]);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /^agentstate: the export holds team sessions, not agent ones/);
  } finally {
    await d.remove();
  }
});

Deno.test("cli: ls, show, rename, rm, stats and migrate", async () => {
  const d = await tempDir("cli-inspect");
  try {
    await seed(`${d.path}/a.db`, 30);
    const ls = await ok(d.path, "ls", "file:a.db", "--user", "u3", "--limit", "2");
    const [head, ...rows] = ls.stdout.trim().split("\n");
    assert.match(head!, /^ID +USER +AGENTID +NAME +VERSION +CREATED \(UTC\) +UPDATED \(UTC\)$/);
    assert.match(rows[0]!, /^s23\/é +u3 +a +- +4 +1970-01-01 00:00:01 +1970-01-01 00:00:50$/);
    assert.match(rows.at(-1)!, /^2 session\(s\); next page: --cursor \S+$/);
    const cursor = rows.at(-1)!.split("--cursor ")[1]!;
    const next = JSON.parse((await ok(d.path, "ls", "file:a.db", "--user", "u3", "--cursor", cursor, "--json")).stdout);
    assert.deepEqual(next.sessions.map((s: Session) => s.sessionId), ["s3/é"]);
    assert.equal(next.nextCursor, null);
    const window = JSON.parse(
      (await ok(
        d.path,
        "ls",
        "file:a.db",
        "--since",
        "1005",
        "--until",
        new Date(1010).toISOString(),
        "--json",
        "--order",
        "asc",
      ))
        .stdout,
    );
    assert.deepEqual(window.sessions.map((s: Session) => s.createdAt), [1005, 1006, 1007, 1008, 1009]);
    const byName = JSON.parse((await ok(d.path, "ls", "file:a.db", "--name", "name 9", "--json")).stdout);
    assert.deepEqual(byName.sessions.map((s: Session) => s.sessionId), ["s9/é"]);

    const show = JSON.parse((await ok(d.path, "show", "file:a.db", "s7/é", "--json")).stdout);
    assert.equal(show.session.sessionId, "s7/é");
    assert.equal(show.runCount, 2);
    assert.deepEqual(show.lastRuns.map((r: RunRecord) => r.seq), [1, 2]);
    assert.match((await ok(d.path, "show", "file:a.db", "s7/é")).stdout, /runs: 2; latest 2:\n {2}#1 /);
    assert.equal((await cli(d.path, ["show", "file:a.db", "s7/é", "--user", "u1"])).code, 1, "another user's");

    assert.match((await ok(d.path, "rename", "file:a.db", "s1/é", "new name", "--user", "u1")).stdout, /version 3/);
    assert.equal((await cli(d.path, ["rename", "file:a.db", "s1/é", "x", "--user", "u2"])).code, 1);
    await ok(d.path, "rm", "file:a.db", "s1/é");
    assert.equal((await cli(d.path, ["rm", "file:a.db", "s1/é"])).code, 1, "already gone");

    const stats = JSON.parse((await ok(d.path, "stats", "file:a.db", "--json")).stdout);
    assert.deepEqual(Object.keys(stats), ["agent", "team", "workflow"]);
    assert.deepEqual([stats.agent.sessions, stats.agent.users, stats.agent.oldest, stats.agent.newest], [
      29,
      10,
      1000,
      1029,
    ]);
    assert.ok(stats.agent.bytes > 29 * 100);
    assert.equal(stats.team.sessions, 0);

    assert.match((await ok(d.path, "migrate", "file:fresh.db")).stdout, /^agent_sessions: schema version 0 -> \d+/);
    assert.match((await ok(d.path, "migrate", "file:fresh.db")).stdout, /schema version (\d+) -> \1 \(current \1\)/);
    assert.match((await ok(d.path, "migrate", "json:./j", "--mode", "workflow")).stdout, /layout created and current/);
    assert.match((await ok(d.path, "stats", "json:./j", "--mode=team")).stdout, /^team: no sessions\n/);
  } finally {
    await d.remove();
  }
});

Deno.test("cli: copy of 10 000 sessions libSQL → libSQL, → JSON and back; interrupted copy resumes", async () => {
  const d = await tempDir("cli-copy");
  try {
    await seed(`${d.path}/big.db`, 10_000);
    const timed = async (...args: string[]) => {
      const started = performance.now();
      const result = await ok(d.path, ...args);
      return { ...result, ms: Math.round(performance.now() - started) };
    };
    const toLibsql = await timed("copy", "file:big.db", "file:copy.db", "-q");
    assert.match(toLibsql.stdout, /copied 10000, skipped 0/);
    const toJson = await timed("copy", "file:big.db", "json:./big", "-q");
    assert.match(toJson.stdout, /copied 10000, skipped 0/);
    const again = await timed("copy", "file:big.db", "json:./big", "-q");
    assert.match(again.stdout, /copied 0, skipped 10000/, "a re-run copies nothing twice");
    const back = await timed("copy", "json:./big", "file:back.db", "-q");
    assert.match(back.stdout, /copied 10000, skipped 0/);
    for (const url of ["file:copy.db", "file:back.db", "json:./big"]) {
      assert.equal(
        JSON.parse((await ok(d.path, "stats", url, "--json", "--mode", "agent")).stdout).agent.sessions,
        10_000,
      );
    }
    await using original = await openStorage(`file:${d.path}/big.db`);
    await using copied = await openStorage(`file:${d.path}/back.db`);
    for (const id of ["s0/é", "s7/é", "s9999/é"]) {
      assert.deepEqual(await copied.read(id), await original.read(id));
      assert.deepEqual(await copied.getRuns(id), await original.getRuns(id));
    }

    // Interrupt a copy after its first batch (the first progress line), then resume it.
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "copy", "file:big.db", "file:resumed.db"],
      cwd: d.path,
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^copy: \d+/, "plain progress lines when stderr is not a terminal");
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stderr.cancel();
    const resumed = await timed("copy", "file:big.db", "file:resumed.db");
    const [, copiedCount, skippedCount] = /copied (\d+), skipped (\d+)/.exec(resumed.stdout)!.map(Number);
    assert.equal(copiedCount! + skippedCount!, 10_000);
    assert.ok(skippedCount! > 0 && copiedCount! > 0, resumed.stdout);
    assert.match(resumed.stderr, /^copy: \d+ \(\d+\/s\)\n/);
    assert.doesNotMatch(resumed.stderr, /copied|already there/, "the summary is printed once, on stdout");
    assert.ok(!resumed.stderr.includes("\u001b") && !resumed.stderr.includes("\r"), "no colours or redraws off a TTY");
    assert.equal(JSON.parse((await ok(d.path, "stats", "file:resumed.db", "--json")).stdout).agent.sessions, 10_000);
    console.log(
      `copy 10 000 sessions (CLI subprocess, incl. start-up): libSQL → libSQL ${toLibsql.ms} ms, ` +
        `libSQL → JSON ${toJson.ms} ms, JSON → libSQL ${back.ms} ms, re-run onto JSON (all skipped) ${again.ms} ms, ` +
        `resume after kill (${copiedCount} left) ${resumed.ms} ms`,
    );
  } finally {
    await d.remove();
  }
});

Deno.test("cli: import-agno from agno's SQLite tables and from a JsonStorage directory", async () => {
  const d = await tempDir("cli-agno");
  try {
    await writeAgnoSqlite(`${d.path}/agno.db`);
    await writeAgnoJsonDir(`${d.path}/agno-json`);
    for (const source of ["agno.db", "agno-json"]) {
      const sqlite = source === "agno.db";
      const result = await ok(d.path, "import-agno", source, `file:${source}.out.db`, "--mode", "agent");
      assert.match(
        result.stdout,
        sqlite ? /imported 3 agno agent session\(s\), skipped 0$/m : /imported 2 .*, 1 file\(s\) of another mode/,
      );
      await using storage = await openStorage(`file:${d.path}/${source}.out.db`);
      const one = (await storage.read("agno-1"))!;
      assert.deepEqual(
        [one.userId, one.sessionName, one.agentId, one.teamSessionId, one.createdAt, one.updatedAt, one.version],
        ["ada", "Research chat", "research-agent", null, 1_700_000_000_000, 1_700_000_500_000, 1],
      );
      assert.deepEqual(one.memory, { summary: null }, "runs move to the run log");
      assert.deepEqual(one.agentData, { name: "Researcher", model: { provider: "OpenAI" } });
      assert.deepEqual(one.sessionData, { session_name: "Research chat", session_state: { step: 2 } });
      assert.deepEqual(one.extraData, sqlite ? { agno: { legacy_flag: "yes" } } : null);
      assert.deepEqual((await storage.getRuns("agno-1")).runs, [
        {
          seq: 1,
          key: null,
          createdAt: 1_700_000_200_000,
          run: { input: "hi", content: "hello", created_at: 1_700_000_200 },
        },
        { seq: 2, key: null, createdAt: 1_700_000_500_000, run: { input: "more", content: "sure" } },
      ]);
      const two = (await storage.read("agno-2/ü"))!;
      assert.deepEqual([two.userId, two.teamSessionId, two.createdAt, two.updatedAt], [
        null,
        "team-9",
        1_700_000_100_000,
        1_700_000_100_000,
      ]);
      assert.equal(two.agentData, null);
      assert.deepEqual(two.extraData, { source: "import", agno: { agent_data: ["not", "an", "object"] } });
      if (sqlite) {
        const three = (await storage.read("agno-3"))!;
        assert.deepEqual([three.memory, three.agentData, three.extraData, three.updatedAt], [
          null,
          null,
          { agno: { agent_data: "not json at all" } },
          1_700_000_300_000,
        ]);
      }
      const again = await ok(d.path, "import-agno", source, `file:${source}.out.db`, "-q");
      assert.match(again.stdout, /imported 0 .*skipped [23]/, "skip by default: a re-run adds nothing");
    }
    // Team mode: the table defaults to team_sessions; --table picks another; the JSON dir holds both modes.
    for (const args of [["agno.db"], ["agno.db", "--table", "team_sessions"], ["agno-json"]]) {
      await ok(d.path, "import-agno", ...args, "json:./teams", "--mode", "team", "--on-conflict", "overwrite", "-q");
      const team = (await everything(`json:${d.path}/teams`, "team"))[0]!.session as TeamSession;
      assert.deepEqual(
        [team.teamId, team.sessionName, team.teamData, team.updatedAt],
        ["planners", "Standup", { name: "Planners" }, 1_700_001_060_000],
      );
    }
    const noTable = await cli(d.path, ["import-agno", "agno.db", "memory:", "--mode", "workflow"]);
    assert.equal(noTable.code, 1);
    assert.match(noTable.stderr, /has no table workflow_sessions \(choose one with --table\)/);
  } finally {
    await d.remove();
  }
});

Deno.test("cli: usage errors exit 2, failures exit 1 with one line", async () => {
  const d = await tempDir("cli-errors");
  try {
    const commands = [
      "ls",
      "show",
      "rm",
      "rename",
      "export",
      "import",
      "copy",
      "migrate",
      "stats",
      "purge",
      "import-agno",
    ];
    for (const command of commands) {
      const help = await ok(d.path, command, "--help");
      assert.match(help.stdout, new RegExp(`^usage: agentstate ${command} `));
    }
    assert.match((await ok(d.path, "--help")).stdout, /^usage: agentstate <command>/);
    assert.equal((await cli(d.path, [])).code, 2);
    for (
      const args of [
        ["ls", "ftp://nope"],
        ["ls", "file:x.db", "--bogus"],
        ["frobnicate"],
        ["ls", "memory:", "--sort", "x"],
        ["ls", "memory:", "--since", "yesterday"],
        ["ls", "memory:", "--limit", "5000"],
        ["ls", "memory:", "--cursor", "garbage"],
        ["ls", "memory:", "--mode", "robot"],
        ["ls"],
        ["copy", "memory:"],
        ["import", "memory:", "--on-conflict", "maybe", "--in", "x"],
        ["ls", "upstash+https://example.invalid"],
      ]
    ) {
      const result = await cli(d.path, args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^agentstate: [^\n]+\n$/, args.join(" "));
    }
    for (
      const args of [["import", "file:t.db", "--in", "nope.ndjson"], ["ls", "file:missing.db"], [
        "export",
        "json:./nope",
      ]]
    ) {
      const result = await cli(d.path, args);
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^agentstate: [^\n]*nope|missing[^\n]*\n$/);
    }
    await assert.rejects(Deno.stat(`${d.path}/missing.db`), Deno.errors.NotFound, "ls creates nothing");
    assert.equal((await cli(d.path, ["import-agno", "nope.db", "memory:"])).code, 1);
  } finally {
    await d.remove();
  }
});

Deno.test("cli: a bad NDJSON line imports nothing (fail, overwrite) or is reported and left out (skip)", async () => {
  const d = await tempDir("cli-ndjson");
  try {
    const entry = (id: string, runs: unknown[] = []) =>
      JSON.stringify({ session: { sessionId: id, createdAt: 1, updatedAt: 2, version: 1 }, runs });
    const header = JSON.stringify({ agentstate: "export", version: 1, mode: "agent" });
    const files: Record<string, [string, RegExp]> = {
      "broken.ndjson": [
        `${header}\n${entry("ok")}\n{"session": {"sessionId": "x",\n${entry("ok2")}\n`,
        /line 3: not JSON/,
      ],
      "badrun.ndjson": [
        `${header}\n${entry("ok")}\n\n${entry("bad", [{ seq: 2, createdAt: 1, run: {} }])}\n${entry("ok2")}\n`,
        /line 4: runs\.0\.seq: expected 1/,
      ],
      "badfield.ndjson": [
        `${entry("ok")}\r\n${entry("ok2").replace('"version":1', '"version":0')}\r\n`,
        /line 2: version/,
      ],
    };
    for (const [name, [text, message]] of Object.entries(files)) {
      await Deno.writeTextFile(`${d.path}/${name}`, text);
      for (const onConflict of ["fail", "overwrite"]) {
        const bad = await cli(d.path, ["import", "file:t.db", "--in", name, "--on-conflict", onConflict]);
        assert.equal(bad.code, 1, name);
        assert.match(bad.stderr, new RegExp(`^agentstate: ${message.source}[^\\n]*\\n$`), name);
        assert.deepEqual(await everything(`file:${d.path}/t.db`), [], `${name}: nothing imported`);
      }
    }
    const skip = await cli(d.path, ["import", "file:t.db", "--in", "badrun.ndjson", "--on-conflict", "skip"]);
    assert.equal(skip.code, 1, "still reports the bad line");
    assert.match(skip.stdout, /imported 2, skipped 0, bad lines 1/);
    assert.match(skip.stderr, /agentstate: 1 line\(s\) could not be read; first: line 4: /);
    assert.deepEqual((await everything(`file:${d.path}/t.db`)).map((e) => e.session.sessionId), ["ok", "ok2"]);

    // fail: an id that exists, or one twice in the file, stops the import before anything is written.
    await Deno.writeTextFile(`${d.path}/clash.ndjson`, `${entry("new")}\n${entry("ok")}\n`);
    const clash = await cli(d.path, ["import", "file:t.db", "--in", "clash.ndjson"]);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /line 2: session "ok" exists \(--on-conflict fail\)/);
    await Deno.writeTextFile(`${d.path}/twice.ndjson`, `${entry("n1")}\n${entry("n1")}\n`);
    assert.match(
      (await cli(d.path, ["import", "file:t.db", "--in", "twice.ndjson"])).stderr,
      /line 2: .*already on line 1/,
    );
    assert.deepEqual((await everything(`file:${d.path}/t.db`)).length, 2);
    // overwrite: the later of two lines with one id wins.
    await Deno.writeTextFile(
      `${d.path}/twice.ndjson`,
      `${entry("ok")}\n${entry("ok").replace('"version":1', '"version":7')}\n`,
    );
    assert.match(
      (await ok(d.path, "import", "file:t.db", "--in", "twice.ndjson", "--on-conflict", "overwrite")).stdout,
      /imported 2/,
    );
    assert.equal((await everything(`file:${d.path}/t.db`))[0]!.session.version, 7);
    const notExport = await cli(d.path, ["import", "file:t.db", "--in", "v2.ndjson"], undefined);
    assert.equal(notExport.code, 1);
    await Deno.writeTextFile(`${d.path}/v2.ndjson`, `{"agentstate":"export","version":2,"mode":"agent"}\n`);
    assert.match(
      (await cli(d.path, ["import", "file:t.db", "--in", "v2.ndjson"])).stderr,
      /line 1: not an agentstate export of version 1/,
    );
  } finally {
    await d.remove();
  }
});
