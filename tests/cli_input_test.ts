import { createClient } from "@libsql/client";
import assert from "node:assert/strict";
import { openStorage } from "../backends/open.ts";
import { readLines } from "../cli/lines.ts";
import { displayWidth } from "../cli/text.ts";
import config from "../deno.json" with { type: "json" };
import { cli, main, ok } from "./support/cli.ts";
import { tempDir } from "./support/temp.ts";

const HEADER = JSON.stringify({ agentstate: "export", version: 1, mode: "agent" });

/** An export line for session `id`. */
function entry(id: string, name: string | null = null): string {
  return JSON.stringify({
    session: { sessionId: id, userId: "ada", sessionName: name, createdAt: 1_000, updatedAt: 2_000, version: 1 },
    runs: [],
  });
}

async function count(url: string): Promise<number> {
  await using storage = await openStorage(url);
  return (await storage.getAllSessionIds()).length;
}

Deno.test("cli import: stdin works with every --on-conflict (read once); the summary is printed once", async () => {
  const d = await tempDir("cli-stdin");
  try {
    const ndjson = [HEADER, entry("a"), entry("b")].join("\n") + "\n";
    const piped = await cli(d.path, ["import", "file:x.db"], ndjson);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, "imported 2, skipped 0\n");
    assert.equal(piped.stderr, "", "no second summary on stderr");
    assert.equal(await count(`file:${d.path}/x.db`), 2);
    // The first pass still guards the second: a clash imports nothing.
    const clash = await cli(d.path, ["import", "file:x.db"], [HEADER, entry("c"), entry("a")].join("\n"));
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /^agentstate: line 3: session "a" exists/);
    assert.equal(await count(`file:${d.path}/x.db`), 2);
    const over = await cli(d.path, ["import", "file:x.db", "--on-conflict", "overwrite"], ndjson);
    assert.equal(over.stdout, "imported 2, skipped 0\n");
    const leftovers = [...Deno.readDirSync(d.path)].map((e) => e.name).filter((n) => n.startsWith("agentstate-"));
    assert.deepEqual(leftovers, []);
  } finally {
    await d.remove();
  }
});

Deno.test("cli import: invalid UTF-8 is an error naming the line; control characters in messages are escaped", async () => {
  const d = await tempDir("cli-utf8");
  try {
    const bad = new Uint8Array([
      ...new TextEncoder().encode(`${HEADER}\n${entry("a")}\n`),
      ...new TextEncoder().encode(entry("b", "caf").slice(0, -30)),
      0xff,
      0xfe,
      ...new TextEncoder().encode(entry("b").slice(-30) + "\n"),
    ]);
    await Deno.writeFile(`${d.path}/bad.ndjson`, bad);
    const result = await cli(d.path, ["import", "file:x.db", "--in", "bad.ndjson"]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, "agentstate: line 3: not valid UTF-8\n");
    assert.equal(await count(`file:${d.path}/x.db`), 0);
    // A line with a raw escape sequence: the message shows it escaped, never raw.
    await Deno.writeTextFile(`${d.path}/esc.ndjson`, `${HEADER}\n\x1b[2J\x07hello\n`);
    const escaped = await cli(d.path, ["import", "file:y.db", "--in", "esc.ndjson", "--on-conflict", "skip"]);
    assert.equal(escaped.code, 1);
    assert.ok(!escaped.stderr.includes("\x1b") && !escaped.stderr.includes("\x07"), JSON.stringify(escaped.stderr));
    assert.match(escaped.stderr, /line 2: not JSON/);
    assert.match(escaped.stderr, /\\x1b/);
  } finally {
    await d.remove();
  }
});

Deno.test("readLines: a 32 MB line in 16 KB chunks is split in linear time; CRLF and a last line without newline", async () => {
  const chunk = new Uint8Array(16 * 1024).fill(0x61);
  const chunks = 2048;
  const started = performance.now();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("first\r\n"));
      for (let i = 0; i < chunks; i++) controller.enqueue(chunk);
      controller.enqueue(new TextEncoder().encode("\n\nlast é"));
      controller.close();
    },
  });
  const lines = await Array.fromAsync(readLines(stream));
  const ms = performance.now() - started;
  assert.deepEqual(lines.map(([n, l]) => [n, l.length]), [[1, 5], [2, chunk.length * chunks], [4, 6]]);
  assert.equal(lines[2]![1], "last é");
  console.log(`readLines: one ${chunk.length * chunks} byte line in ${chunks} chunks: ${Math.round(ms)} ms`);
  // Joining the chunks again for every chunk (quadratic) copies ~34 GB here; linear takes well under a second.
  assert.ok(ms < 5_000, `${ms} ms`);
});

Deno.test("cli export --out: refuses to overwrite without --force and never follows a planted FILE.partial", async () => {
  const d = await tempDir("cli-export-out");
  try {
    await using storage = await openStorage(`file:${d.path}/s.db`);
    await storage.upsert({ sessionId: "a" });
    await Deno.writeTextFile(`${d.path}/out.ndjson`, "precious");
    const refused = await cli(d.path, ["export", "file:s.db", "--out", "out.ndjson"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /out\.ndjson exists; pass --force/);
    assert.equal(await Deno.readTextFile(`${d.path}/out.ndjson`), "precious");
    // A link planted at FILE.partial pointing at a file the attacker wants overwritten.
    await Deno.writeTextFile(`${d.path}/target.txt`, "keep me");
    await Deno.symlink(`${d.path}/target.txt`, `${d.path}/new.ndjson.partial`);
    const planted = await cli(d.path, ["export", "file:s.db", "--out", "new.ndjson"]);
    assert.equal(planted.code, 2);
    assert.match(planted.stderr, /new\.ndjson\.partial exists/);
    assert.equal(await Deno.readTextFile(`${d.path}/target.txt`), "keep me");
    const forced = await ok(d.path, "export", "file:s.db", "--out", "new.ndjson", "--force", "-q");
    assert.equal(forced.stdout, "");
    assert.equal(await Deno.readTextFile(`${d.path}/target.txt`), "keep me", "the link was removed, not followed");
    assert.equal((await Deno.readTextFile(`${d.path}/new.ndjson`)).trim().split("\n").length, 2);
    await assert.rejects(Deno.lstat(`${d.path}/new.ndjson.partial`), Deno.errors.NotFound);
    await ok(d.path, "export", "file:s.db", "--out", "out.ndjson", "--force", "-q");
    assert.match(await Deno.readTextFile(`${d.path}/out.ndjson`), /"sessionId":"a"/);
  } finally {
    await d.remove();
  }
});

Deno.test("cli: --version, 'did you mean' for commands, flags and bare paths, readable OS errors", async () => {
  const d = await tempDir("cli-hints");
  try {
    assert.equal((await ok(d.path, "--version")).stdout, `agentstate ${config.version}\n`);
    const lsHelp = (await ok(d.path, "ls", "--help")).stdout;
    for (const flag of ["--user U ", "--entity E ", "--name N ", "--cursor C ", "--json "]) {
      assert.match(lsHelp, new RegExp(`^  ${flag} +\\S`, "m"), flag);
    }
    assert.match((await ok(d.path, "show", "--help")).stdout, /^ {2}--runs N +\S/m);
    const expectations: [string[], RegExp][] = [
      [["ls", "memory:", "--usr", "ada"], /^agentstate: unknown option --usr; did you mean --user\?\n$/],
      [["export", "memory:", "--froce"], /^agentstate: unknown option --froce; did you mean --force\?\n$/],
      [["lss", "memory:"], /^agentstate: unknown command "lss"; did you mean ls\?\n$/],
      [["ls", "sessions.db"], /^agentstate: "sessions\.db" is not a storage URL; did you mean file:sessions\.db\?\n$/],
      [["ls", "."], /^agentstate: "\." is not a storage URL; did you mean json:\.\?\n$/],
    ];
    for (const [args, expected] of expectations) {
      const result = await cli(d.path, args);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, expected);
    }
    const missing = await cli(d.path, ["import", "file:x.db", "--in", "missing.ndjson"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, "agentstate: missing.ndjson: no such file or directory\n");
  } finally {
    await d.remove();
  }
});

Deno.test("cli ls: columns line up by display width (CJK, emoji, combining marks); times say UTC", async () => {
  assert.deepEqual(["日本", "😀", "e\u0301", "ab"].map(displayWidth), [4, 2, 1, 2]);
  const d = await tempDir("cli-width");
  try {
    await using storage = await openStorage(`file:${d.path}/w.db`);
    for (const [id, name] of [["a", "日本語の名前"], ["b", "plain"], ["c", "😀 party"], ["d", "cafe\u0301"]]) {
      await storage.upsert({ sessionId: id!, userId: "u", sessionName: name! });
    }
    const lines = (await ok(d.path, "ls", "file:w.db")).stdout.trim().split("\n").slice(0, -1);
    assert.match(lines[0]!, /CREATED \(UTC\) +UPDATED \(UTC\)$/);
    const versionColumn = lines.map((line) => displayWidth(line.slice(0, line.search(/ (1|VERSION) /))));
    assert.equal(new Set(versionColumn).size, 1, lines.join("\n"));
  } finally {
    await d.remove();
  }
});

Deno.test("cli show: a long run ends in … within 200 columns, never inside a character; run times say UTC", async () => {
  const d = await tempDir("cli-show-runs");
  try {
    await using storage = await openStorage(`file:${d.path}/r.db`);
    await storage.upsert({ sessionId: "s", userId: "ada" });
    await storage.appendRuns("s", [{ t: "😀".repeat(300) }, { t: "x".repeat(300) }, { t: "short" }], { userId: "ada" });
    const lines = (await ok(d.path, "show", "file:r.db", "s")).stdout.trimEnd().split("\n").slice(-3);
    const runs = lines.map((line) => /^ {2}#(\d) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC (.*)$/.exec(line)?.[2]);
    assert.ok(runs.every((r) => r !== undefined), lines.join("\n"));
    const [emoji, plain, short] = runs as [string, string, string];
    assert.equal(short, '{"t":"short"}', "short runs are whole");
    assert.equal(plain, `{"t":"${"x".repeat(193)}…`);
    assert.ok(emoji.endsWith("…") && !emoji.includes("\uFFFD"), "cut between characters, not inside a surrogate pair");
    assert.ok(displayWidth(emoji) <= 200 && displayWidth(emoji) >= 199, `${displayWidth(emoji)} columns`);
    const whole = JSON.parse((await ok(d.path, "show", "file:r.db", "s", "--json")).stdout);
    assert.equal(whole.lastRuns[0].run.t, "😀".repeat(300), "--json has runs whole");
  } finally {
    await d.remove();
  }
});

Deno.test("cli progress on a terminal without a total: a count and rate, no bar that wraps", async () => {
  const d = await tempDir("cli-tty");
  try {
    await using storage = await openStorage(`file:${d.path}/big.db`);
    await storage.importSessions(
      Array.from({ length: 6000 }, (_, i) => JSON.parse(entry(`s${i}`))),
    );
    // `script` gives the CLI a pseudo-terminal, so stderr.isTerminal() is true.
    const command = `${Deno.execPath()} run -A ${main} copy file:big.db file:copy.db`;
    const { code, stdout } = await new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      cwd: d.path,
      env: { NO_COLOR: "1", TERM: "xterm" },
      stdin: "null",
      stdout: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, text);
    assert.match(text, /copy: \d+ \(\d+\/s\)/, JSON.stringify(text));
    assert.ok(!/[█░]/.test(text), "no bar without a total");
    assert.equal(text.match(/copied 6000, skipped 0/g)?.length, 1, "the summary once");
  } finally {
    await d.remove();
  }
});

Deno.test("cli import-agno: INTEGER ids imported, NULL and BLOB ids and bad times fail naming the row, ISO times parsed", async () => {
  const d = await tempDir("cli-agno-ids");
  try {
    const db = createClient({ url: `file:${d.path}/agno.db` });
    await db.execute(
      "CREATE TABLE agent_sessions (session_id, agent_id TEXT, user_id TEXT, memory TEXT, agent_data TEXT, " +
        "session_data TEXT, extra_data TEXT, created_at, updated_at INTEGER)",
    );
    // BigInt ids are stored as INTEGER (a JS number would be REAL).
    const rows: [unknown, unknown][] = Array.from({ length: 1200 }, (_, i) => [BigInt(i + 1), 1_700_000_000 + i]);
    rows.push(["text-id", "2024-05-06T07:08:09Z"]);
    await db.batch(rows.map(([id, created]) => ({
      sql: "INSERT INTO agent_sessions (session_id, agent_id, created_at) VALUES (?, 'a', ?)",
      args: [id as bigint | string, created as number | string],
    })));
    const good = await cli(d.path, ["import-agno", "agno.db", "file:to.db", "-q"]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /imported 1201 agno agent session/);
    await using target = await openStorage(`file:${d.path}/to.db`);
    assert.equal((await target.read("1200"))?.createdAt, 1_700_001_199_000);
    assert.equal((await target.read("text-id"))?.createdAt, Date.parse("2024-05-06T07:08:09Z"));
    const failures: [string, string, RegExp][] = [
      ["NULL", "'a'", /agno\.db: agent_sessions row 1202: session_id is NULL/],
      ["x'00ff'", "'a'", /agno\.db: agent_sessions row 1203: session_id is a BLOB/],
      ["'late'", "'yesterday'", /row 1204: created_at "yesterday" is neither epoch seconds nor an ISO date/],
      ["'never'", "NULL", /row 1205: neither created_at nor updated_at is set/],
    ];
    for (const [id, created, expected] of failures) {
      await db.execute(`DELETE FROM agent_sessions WHERE rowid > 1201`);
      await db.execute(`INSERT INTO agent_sessions (rowid, session_id, agent_id, created_at) VALUES (
        ${1202 + failures.findIndex((f) => f[0] === id)}, ${id}, 'a', ${created})`);
      const result = await cli(d.path, ["import-agno", "agno.db", "file:fail.db", "-q"]);
      assert.equal(result.code, 1, id);
      assert.match(result.stderr, expected);
    }
    db.close();
  } finally {
    await d.remove();
  }
});

Deno.test("cli import-agno: invalid UTF-8 in a TEXT column is an error naming row and column, not a crash", async () => {
  const d = await tempDir("cli-agno-utf8");
  try {
    const db = createClient({ url: `file:${d.path}/agno.db` });
    await db.execute(
      "CREATE TABLE agent_sessions (session_id, agent_id TEXT, user_id TEXT, memory TEXT, created_at INTEGER)",
    );
    await db.execute("INSERT INTO agent_sessions VALUES ('fine', 'a', 'ü', '{\"k\":\"é\"}', 1700000000)");
    await db.execute("INSERT INTO agent_sessions VALUES ('bad', 'a', 'u', CAST(x'7b22ff22' AS TEXT), 1700000001)");
    db.close();
    const result = await cli(d.path, ["import-agno", "agno.db", "file:to.db", "-q"]);
    assert.equal(result.code, 1, `exit code (134 is the native driver's abort): ${result.stderr}`);
    assert.match(result.stderr, /agno\.db: agent_sessions row 2, column memory: text is not valid UTF-8/);
  } finally {
    await d.remove();
  }
});
