// `stats`: human-readable sizes and counts, per-user counts, raw numbers with --json, expired sessions apart.
import assert from "node:assert/strict";
import { openStorage } from "../backends/open.ts";
import { size } from "../cli/stats.ts";
import { ok } from "./support/cli.ts";
import { tempDir } from "./support/temp.ts";

const DAY = 86_400_000;

/**
 * Agent sessions: "a1" (ada, 3 runs), "a2" (ada, written 40 days ago, 1 run), "b1" (bob, 1.5 MB of memory), "anon"
 * (no user); one team session (bob).
 */
async function seed(url: string): Promise<void> {
  const now = Date.now();
  const at = (days: number) => ({ createdAt: now - days * DAY - 1000, updatedAt: now - days * DAY, version: 1 });
  const runs = (n: number) => Array.from({ length: n }, (_, i) => ({ seq: i + 1, createdAt: now, run: { i } }));
  {
    await using agent = await openStorage(url);
    await agent.importSessions([
      { session: { sessionId: "a1", userId: "ada", ...at(1) }, runs: runs(3) },
      { session: { sessionId: "a2", userId: "ada", ...at(40) }, runs: runs(1) },
      { session: { sessionId: "b1", userId: "bob", memory: { blob: "x".repeat(1_600_000) }, ...at(2) }, runs: [] },
      { session: { sessionId: "anon", ...at(3) }, runs: [] },
    ] as never);
  }
  await using team = await openStorage(url, { mode: "team" });
  await team.importSessions([{ session: { sessionId: "t1", userId: "bob", ...at(1) }, runs: runs(2) }] as never);
}

/** Bytes of each agent session as JSON, by id, read through the library. */
async function jsonSizes(url: string): Promise<Record<string, number>> {
  await using storage = await openStorage(url);
  const sizes: Record<string, number> = {};
  for (const s of await storage.getAllSessions()) {
    sizes[s.sessionId] = new TextEncoder().encode(JSON.stringify(s)).length;
  }
  return sizes;
}

Deno.test("cli stats: size() prints binary units, never a raw byte count past 1 KiB", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [10 * 1024, "10 KiB"],
    [1024 * 1024 - 1, "1.0 MiB"],
    [1.6e6, "1.5 MiB"],
    [5 * 1024 ** 3, "5.0 GiB"],
  ];
  assert.deepEqual(cases.map(([bytes]) => size(bytes)), cases.map(([, shown]) => shown));
});

for (const kind of ["file", "json"] as const) {
  Deno.test(`cli stats (${kind}:): KiB/MiB, session, user and run counts; --by-user; --json raw; --ttl`, async () => {
    const d = await tempDir(`cli-stats-${kind}`);
    try {
      const url = kind === "file" ? `file:${d.path}/s.db` : `json:${d.path}/s`;
      await seed(url);
      const sizes = await jsonSizes(url);
      const total = Object.values(sizes).reduce((a, b) => a + b, 0);

      const human = (await ok(d.path, "stats", url)).stdout;
      assert.match(human, /^agent: 4 session\(s\), 2 user\(s\) and 1 session\(s\) without a user\n/);
      assert.match(human, /\n {2}runs: 4 in 2 session\(s\)\n/);
      assert.match(human, /\n {2}size: 1\.5 MiB of session JSON, largest 1\.5 MiB \(runs not counted\)\n/);
      assert.match(human, /\n {2}created \d{4}-\d\d-\d\d \d\d:\d\d:\d\d … \S+ \S+ UTC, last write \S+ \S+ UTC\n/);
      assert.match(human, /\nteam: 1 session\(s\), 1 user\(s\)\n {2}runs: 2 in 1 session\(s\)\n/);
      assert.match(human, /\nworkflow: no sessions\n/);
      assert.match(human, /\n\(a full scan: read 5 session\(s\) and the latest run of each live one\)\n$/);
      assert.doesNotMatch(human, /\d{4,} ?(B|bytes)/, "no raw byte counts");

      const json = JSON.parse((await ok(d.path, "stats", url, "--json")).stdout);
      assert.deepEqual(Object.keys(json), ["agent", "team", "workflow"]);
      const { oldest, newest, lastWrite, ...agent } = json.agent;
      assert.deepEqual(agent, {
        sessions: 4,
        users: 2,
        withoutUser: 1,
        runs: 4,
        withRuns: 2,
        bytes: total,
        largest: sizes.b1,
      });
      assert.ok(oldest < newest && newest < lastWrite, JSON.stringify(json.agent));
      assert.equal(json.workflow.sessions, 0);
      assert.equal(json.workflow.oldest, null);

      const byUser = JSON.parse((await ok(d.path, "stats", url, "--json", "--by-user", "--mode", "agent")).stdout);
      assert.deepEqual(Object.keys(byUser), ["agent"]);
      assert.deepEqual(byUser.agent.byUser, {
        ada: { sessions: 2, runs: 4, bytes: sizes.a1! + sizes.a2! },
        bob: { sessions: 1, runs: 0, bytes: sizes.b1 },
      });
      const byUserText = (await ok(d.path, "stats", url, "--by-user", "--mode", "agent")).stdout;
      assert.match(
        byUserText,
        /\n {2}user ada: 2 session\(s\), 4 run\(s\), \d+ B\n {2}user bob: 1 session\(s\), 0 run/,
      );

      // --ttl 30d: "a2" (40 days) is counted apart and left out of the other numbers.
      const live = JSON.parse((await ok(d.path, "stats", url, "--json", "--ttl", "30d", "--mode", "agent")).stdout);
      assert.deepEqual(
        [live.agent.sessions, live.agent.expired, live.agent.runs, live.agent.bytes],
        [3, 1, 3, total - sizes.a2!],
      );
      assert.match(
        (await ok(d.path, "stats", url, "--ttl", "30d", "--mode", "agent")).stdout,
        /^agent: 3 session\(s\), 2 user\(s\) and 1 session\(s\) without a user; 1 more expired under --ttl 30d/,
      );
    } finally {
      await d.remove();
    }
  });
}
