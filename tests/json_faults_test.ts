/**
 * Faults of the JSON backend (issue 23): a full disk, a failing change log,
 * stale journals, kills during batches and imports, paging under concurrent
 * writers, corrupt run logs and symbolic links.
 */
import assert from "node:assert/strict";
import { encodeFileName, JsonStorage } from "../backends/json.ts";
import { CorruptRecordError } from "../session/errors.ts";
import { jsonWorker, spawnJsonWorker } from "./support/json_spawn.ts";
import { killWhileWriting } from "./support/process.ts";
import { tempDir } from "./support/temp.ts";

async function fileOf(dir: string, id: string, suffix = ".json"): Promise<string> {
  return `${dir}/agent/${await encodeFileName(id)}${suffix}`;
}

function tempFiles(dir: string): string[] {
  return [...Deno.readDirSync(`${dir}/agent`)].map((e) => e.name).filter((n) => n.startsWith(".tmp-"));
}

async function sh(cmd: string, ...args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

/** Fills the file system at `dir` with 4 KiB files until it refuses; returns their paths. */
async function fill(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0;; i++) {
    const path = `${dir}/fill-${i}`;
    files.push(path);
    try {
      await Deno.writeFile(path, new Uint8Array(4096));
    } catch {
      return files;
    }
  }
}

Deno.test("JsonStorage on a full disk: failed writes throw, keep the old files and leave no temporary file", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: the disk-full test mounts a tmpfs and needs root");
    return;
  }
  const d = await tempDir("json-full");
  const mnt = `${d.path}/mnt`;
  await Deno.mkdir(mnt);
  await sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt);
  try {
    await using storage = new JsonStorage({ dir: `${mnt}/s` });
    await using lister = new JsonStorage({ dir: `${mnt}/s` });
    await storage.upsert({ sessionId: "big", memory: { text: "m".repeat(32_000) } });
    await storage.appendRuns("big", [{ n: 1 }, { n: 2 }]);
    const before = await storage.read("big");
    assert.equal((await lister.listSessions()).sessions.length, 1);
    const fillers = await fill(mnt);
    // 8 KiB free: a 32 KB write starts and comes up short.
    for (const path of fillers.splice(-3)) await Deno.remove(path).catch(() => {});
    await assert.rejects(storage.renameSession("big", "renamed"));
    await assert.rejects(storage.upsert({ sessionId: "big", memory: { text: "n".repeat(32_000) } }));
    await assert.rejects(storage.upsert({ sessionId: "second", memory: { text: "s".repeat(32_000) } }));
    await assert.rejects(storage.appendRuns("big", [{ n: 3, pad: "r".repeat(32_000) }]));
    assert.deepEqual(await storage.read("big"), before, "the acknowledged session is intact");
    assert.equal(await storage.read("second"), null);
    assert.deepEqual((await storage.getRuns("big")).runs.map((r) => r.run.n), [1, 2]);
    assert.deepEqual(tempFiles(`${mnt}/s`), [], "failed temporary files are removed");
    assert.deepEqual((await lister.listSessions()).sessions, [before]);
    for (const path of fillers) await Deno.remove(path).catch(() => {});
    // With space again, everything goes on: the cut-off run lines are not counted.
    assert.equal((await storage.renameSession("big", "renamed"))?.version, before!.version + 1);
    await storage.appendRuns("big", [{ n: 3 }]);
    assert.deepEqual((await storage.getRuns("big")).runs.map((r) => [r.seq, r.run.n]), [[1, 1], [2, 2], [3, 3]]);
    assert.equal((await lister.listSessions()).sessions[0]?.sessionName, "renamed");
  } finally {
    await sh("umount", mnt);
    await d.remove();
  }
});

Deno.test("JsonStorage: a change log that cannot be appended to fails the write, and nothing is kept", async () => {
  const d = await tempDir("json-changes-fail");
  try {
    await using a = new JsonStorage({ dir: d.path });
    await using b = new JsonStorage({ dir: d.path });
    await a.upsert({ sessionId: "x" });
    assert.deepEqual(await b.getAllSessionIds(), ["x"]);
    const log = `${d.path}/agent/.changes`;
    await Deno.remove(log);
    await Deno.mkdir(log);
    await assert.rejects(a.upsert({ sessionId: "y" }));
    await assert.rejects(a.upsert({ sessionId: "x", memory: { v: 2 } }));
    assert.equal(await a.read("y"), null, "an error means nothing was written");
    assert.equal((await a.read("x"))?.version, 1);
    assert.deepEqual(tempFiles(d.path), []);
    await Deno.remove(log);
    await a.upsert({ sessionId: "z" });
    assert.deepEqual((await b.getAllSessionIds()).sort(), ["x", "z"]);
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: a stale journal of an older layout never replaces newer acknowledged writes", async () => {
  const d = await tempDir("json-stale-journal");
  try {
    await using a = new JsonStorage({ dir: d.path });
    const first = await a.upsert({ sessionId: "b1", memory: { v: 1 } });
    // A batch that died after committing its journal, replaying version 2 …
    const temp = `${d.path}/agent/.tmp-crashed`;
    await Deno.writeTextFile(temp, JSON.stringify({ ...first, memory: { v: "stale" }, version: 2 }));
    await Deno.writeTextFile(`${d.path}/agent/.batch-crashed`, JSON.stringify([[temp, await fileOf(d.path, "b1")]]));
    // … while an open storage goes on writing.
    for (let v = 2; v <= 4; v++) await a.upsert({ sessionId: "b1", memory: { v } });
    await using b = new JsonStorage({ dir: d.path });
    await b.create();
    assert.deepEqual((await b.read("b1"))?.memory, { v: 4 });
    assert.equal((await a.read("b1"))?.version, 4);
    assert.deepEqual(
      [...Deno.readDirSync(`${d.path}/agent`)].map((e) => e.name).filter((n) => n.startsWith(".")).sort(),
      [
        ".changes",
        ".journal",
        ".locks",
      ],
    );
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: writers of 50-session batches killed as their journal appears: never half-applied, never replayed over newer writes", async () => {
  const d = await tempDir("json-kill-batch");
  const n = 50;
  let kills = 0;
  let journals = 0;
  try {
    await using open = new JsonStorage({ dir: d.path });
    await open.create();
    for (let k = 1; k <= 10; k++) {
      const child = spawnJsonWorker("batch", d.path, String(n));
      const reader = child.stdout.getReader();
      await reader.read();
      const watcher = Deno.watchFs(`${d.path}/agent/.journal`);
      const appeared = (async () => {
        for await (const event of watcher) if (event.paths.some((p) => p.endsWith(".json"))) return;
      })();
      await Promise.race([appeared, new Promise((r) => setTimeout(r, 100 + 50 * k))]);
      child.kill("SIGKILL");
      watcher.close();
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      kills++;
      if ([...Deno.readDirSync(`${d.path}/agent/.journal`)].some((e) => e.name.endsWith(".json"))) journals++;
      // A storage opened before the kill sees every batch whole …
      const sessions = await Promise.all(Array.from({ length: n }, (_, i) => open.read(`b${i}`)));
      const counters = new Set(sessions.map((s) => s?.memory?.i));
      assert.equal(counters.size, 1, `kill ${k}: one batch, not a mix: ${[...counters]}`);
      const listed = (await open.listSessions({ limit: 1000 })).sessions.filter((s) => s.sessionId.startsWith("b"));
      assert.ok(listed.every((s) => s.memory?.i === sessions[0]?.memory?.i), `kill ${k}: listing sees one batch`);
      // … and its acknowledged writes survive whatever a new storage recovers.
      const acked = await open.upsertMany(
        Array.from({ length: n }, (_, i) => ({ sessionId: `b${i}`, memory: { i: -k } })),
      );
      await using fresh = new JsonStorage({ dir: d.path });
      await fresh.create();
      assert.deepEqual(await Promise.all(acked.map((s) => fresh.read(s.sessionId))), acked);
    }
    console.log(`json batch kills: ${kills} kills, ${journals} left a journal, 0 violations`);
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: an overwrite import killed at random leaves the old session with its old runs, or the new with its new", async () => {
  const d = await tempDir("json-kill-import");
  let kills = 0;
  try {
    for (let k = 0; k < 16; k++) {
      await killWhileWriting(jsonWorker, ["import", d.path], 40 + Math.floor(Math.random() * 400));
      kills++;
      await using storage = new JsonStorage({ dir: d.path });
      const session = await storage.read("imp");
      if (session === null) continue;
      const tag = session.memory?.tag;
      const runs = (await storage.getRuns("imp", { limit: 100 })).runs;
      assert.equal(runs.length, tag === "A" ? 3 : 5, `kill ${k}: session ${tag} has ${runs.length} runs`);
      assert.ok(runs.every((r) => r.run.tag === tag), `kill ${k}: session ${tag} carries another backup's runs`);
    }
    console.log(`json import kills: ${kills} kills, 0 violations`);
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: paging under 6 writer processes (re-creating sessions at version 1) is never short and never skips", async () => {
  const d = await tempDir("json-paging");
  try {
    await using storage = new JsonStorage({ dir: d.path });
    const stable: string[] = [];
    for (let i = 0; i < 30; i++) {
      stable.push(`s${String(i).padStart(2, "0")}`);
      await storage.upsert({ sessionId: stable[i]! });
      await storage.upsert({ sessionId: `w${i % 6}-${i % 10}` });
      await new Promise((r) => setTimeout(r, 2));
    }
    const writers = Array.from({ length: 6 }, (_, w) => spawnJsonWorker("mix", d.path, "3000", `w${w}-`));
    const until = Date.now() + 3000;
    let pagings = 0;
    let pages = 0;
    while (Date.now() < until) {
      for (const order of ["asc", "asc", "desc"] as const) {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await storage.listSessions({ sortBy: "createdAt", order, limit: 3, cursor });
          pages++;
          if (page.nextCursor !== null) assert.equal(page.sessions.length, 3, "only the last page may be short");
          seen.push(...page.sessions.map((s) => s.sessionId).filter((id) => id.startsWith("s")));
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
        pagings++;
        assert.deepEqual(seen, order === "asc" ? stable : stable.toReversed(), `${order} paging skipped a session`);
      }
    }
    const ops = await Promise.all(writers.map(async (child) => {
      const { code, stdout } = await child.output();
      assert.equal(code, 0);
      return JSON.parse(new TextDecoder().decode(stdout)).ops as number;
    }));
    console.log(
      `json paging: ${pagings} full pagings (${pages} pages) against ${
        ops.reduce((a, b) => a + b)
      } writes, 0 violations`,
    );
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: a run log garbled, cut short or missing is a CorruptRecordError naming it, never fewer runs", async () => {
  const d = await tempDir("json-runs-corrupt");
  try {
    await using storage = new JsonStorage({ dir: d.path });
    await storage.upsert({ sessionId: "r" });
    await storage.appendRuns("r", [{ n: 1 }, { n: 2 }, { n: 3 }]);
    const log = await fileOf(d.path, "r", ".runs.ndjson");
    const good = await Deno.readTextFile(log);
    const lines = good.split("\n");
    const cases: [string, string | null, RegExp][] = [
      ["garbled middle line", [lines[0], "{oops", lines[2], ""].join("\n"), /:2: a run record is not valid JSON/],
      ["log cut short", good.slice(0, good.length - 10), /holds 2 complete runs, runCount says 3/],
      ["missing log", null, /run log is missing, runCount says 3/],
      [
        "a run that is not an object",
        [lines[0], "7", lines[2], ""].join("\n"),
        /:2: a run record is not a JSON object/,
      ],
    ];
    for (const [what, text, message] of cases) {
      if (text === null) await Deno.remove(log);
      else await Deno.writeTextFile(log, text);
      await assert.rejects(
        storage.getRuns("r"),
        (e) => e instanceof CorruptRecordError && e.message.includes(log) && message.test(e.message),
        what,
      );
      await assert.rejects(storage.appendRuns("r", [{ n: 4 }]), CorruptRecordError, `${what}: append`);
      await Deno.writeTextFile(log, good);
    }
    // Lines after runCount (an append whose writer died before committing) are not runs, and the next append replaces them.
    await Deno.writeTextFile(log, good + JSON.stringify({ seq: 4, createdAt: 1, run: { orphan: true } }) + "\n{torn");
    assert.equal((await storage.getRuns("r")).runs.length, 3);
    await storage.appendRuns("r", [{ n: 4 }]);
    assert.deepEqual((await storage.getRuns("r")).runs.map((r) => r.run.n), [1, 2, 3, 4]);
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage refuses symbolic links for session files, run logs and the change log, for read, list and write", async () => {
  const d = await tempDir("json-symlinks");
  try {
    await using storage = new JsonStorage({ dir: `${d.path}/root` });
    await storage.upsert({ sessionId: "a" });
    await storage.appendRuns("a", [{ n: 1 }]);
    const outside = `${d.path}/outside`;
    const linked = (e: unknown) => e instanceof CorruptRecordError && /symbolic link/.test(e.message);

    // A session file that is a link to another (valid) session file outside the directory.
    await using other = new JsonStorage({ dir: outside });
    await other.upsert({ sessionId: "l" });
    const target = `${outside}/agent/${await encodeFileName("l")}.json`;
    const before = await Deno.readTextFile(target);
    const file = await fileOf(`${d.path}/root`, "l");
    await Deno.symlink(target, file);
    await assert.rejects(storage.read("l"), linked, "read");
    await assert.rejects(storage.upsert({ sessionId: "l", memory: { x: 1 } }), linked, "write");
    await assert.rejects(storage.deleteSession("l"), linked, "delete");
    await using fresh = new JsonStorage({ dir: `${d.path}/root` });
    await assert.rejects(fresh.listSessions(), linked, "list");
    assert.equal(await Deno.readTextFile(target), before);
    await Deno.remove(file);

    // A run log that is a link.
    const log = await fileOf(`${d.path}/root`, "a", ".runs.ndjson");
    const victim = `${d.path}/victim.txt`;
    await Deno.writeTextFile(victim, "keep\n");
    await Deno.rename(log, `${d.path}/runs-backup`);
    await Deno.symlink(victim, log);
    await assert.rejects(storage.appendRuns("a", [{ n: 2 }]), linked, "append");
    await assert.rejects(storage.getRuns("a"), linked, "getRuns");
    assert.equal(await Deno.readTextFile(victim), "keep\n");
    await Deno.remove(log);
    await Deno.rename(`${d.path}/runs-backup`, log);

    // The change log as a link.
    const changes = `${d.path}/root/agent/.changes`;
    await Deno.remove(changes);
    await Deno.symlink(victim, changes);
    await assert.rejects(storage.upsert({ sessionId: "b" }), linked, "change log write");
    assert.equal(await storage.read("b"), null);
    await using third = new JsonStorage({ dir: `${d.path}/root` });
    await assert.rejects(third.listSessions(), linked, "change log list");
    assert.equal(await Deno.readTextFile(victim), "keep\n");
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: a session re-created at version 1 after the listing index saw it does not make paging skip", async () => {
  const d = await tempDir("json-recreated");
  try {
    await using storage = new JsonStorage({ dir: `${d.path}/a` });
    for (let i = 0; i < 10; i++) {
      await storage.upsert({ sessionId: `s${i}` });
      await new Promise((r) => setTimeout(r, 2));
    }
    const first = await storage.listSessions({ sortBy: "createdAt", order: "asc", limit: 3 });
    // s3 is deleted and re-created (version 1 again, newest createdAt) by a writer whose change-log entry the
    // listing consumed before the file was renamed: here the new file is moved in without an entry.
    await using elsewhere = new JsonStorage({ dir: `${d.path}/b` });
    await elsewhere.upsert({ sessionId: "s3" });
    await Deno.rename(await fileOf(`${d.path}/b`, "s3"), await fileOf(`${d.path}/a`, "s3"));
    const ids = first.sessions.map((s) => s.sessionId);
    let cursor = first.nextCursor ?? undefined;
    while (cursor !== undefined) {
      const page = await storage.listSessions({ sortBy: "createdAt", order: "asc", limit: 3, cursor });
      ids.push(...page.sessions.map((s) => s.sessionId));
      cursor = page.nextCursor ?? undefined;
    }
    assert.deepEqual(ids, ["s0", "s1", "s2", "s4", "s5", "s6", "s7", "s8", "s9", "s3"]);
  } finally {
    await d.remove();
  }
});
