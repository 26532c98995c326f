import assert from "node:assert/strict";
import { encodeFileName, JsonStorage } from "../backends/json.ts";
import { CorruptRecordError } from "../session/errors.ts";
import { HOSTILE_IDS, runConformance } from "./conformance/mod.ts";
import { jsonBackend } from "./support/backends.ts";
import { legacyAgentSession } from "./support/fixtures.ts";
import { assertSurvivedChurn } from "./support/json_churn.ts";
import { killWhileWriting } from "./support/process.ts";
import { jsonWorker as worker, spawnJsonWorker as spawnWorker } from "./support/json_spawn.ts";
import { tempDir } from "./support/temp.ts";

runConformance(jsonBackend());

async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    const path = `${root}/${entry.name}`;
    out.push(path);
    if (entry.isDirectory) out.push(...await walk(path));
  }
  return out;
}

Deno.test("JsonStorage: one readable file per session, every id stays inside the directory", async () => {
  const d = await tempDir("json-layout");
  try {
    await using storage = new JsonStorage({ mode: "team", dir: `${d.path}/root` });
    const saved = await storage.upsert({ sessionId: "Trip/Plan", teamId: "t", memory: { note: "é" } });
    const file = `${d.path}/root/team/${await encodeFileName("Trip/Plan")}.json`;
    const text = await Deno.readTextFile(file);
    assert.match(text, /\n {2}"sessionId": "Trip\/Plan",\n/, "pretty-printed");
    assert.deepEqual(JSON.parse(text), { ...saved, runCount: 0 });
    for (const id of HOSTILE_IDS) await storage.upsert({ sessionId: id });
    const paths = await walk(`${d.path}/root`);
    for (const path of paths) assert.ok(path.startsWith(`${d.path}/root/team`), path);
    const names = paths.map((p) => p.slice(p.lastIndexOf("/") + 1).toLowerCase());
    assert.equal(new Set(names).size, names.length, "no two names collide on a case-insensitive file system");
    for (const path of paths) assert.ok(new TextEncoder().encode(path.slice(path.lastIndexOf("/") + 1)).length <= 255);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${d.path}/root/team`)).mode! & 0o777, 0o700);
    assert.deepEqual((await storage.getAllSessionIds()).length, HOSTILE_IDS.length + 1);
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: a hand-broken file is a CorruptRecordError naming it, for read and for listing", async () => {
  const d = await tempDir("json-corrupt");
  try {
    await using storage = new JsonStorage({ dir: d.path });
    await storage.upsert({ sessionId: "good" });
    await storage.upsert({ sessionId: "bad" });
    const file = `${d.path}/agent/${await encodeFileName("bad")}.json`;
    await Deno.writeTextFile(file, '{"sessionId": "bad", "oops": ');
    const error = await storage.read("bad").catch((e) => e);
    assert.ok(error instanceof CorruptRecordError, String(error));
    assert.ok(error.message.includes(file), error.message);
    await assert.rejects(storage.listSessions(), (e) => e instanceof CorruptRecordError && e.message.includes(file));
    // Every listing throws, not only the first one.
    await assert.rejects(
      storage.getAllSessionIds(),
      (e) => e instanceof CorruptRecordError && e.message.includes(file),
    );
    await Deno.writeTextFile(file, JSON.stringify({ sessionId: "bad", version: "one" }));
    await assert.rejects(storage.read("bad"), CorruptRecordError);
    assert.equal((await storage.read("good"))?.version, 1);
    // A file copied by hand under another session's name holds the wrong id: corrupt too, not another session.
    await Deno.copyFile(`${d.path}/agent/${await encodeFileName("good")}.json`, file);
    await assert.rejects(storage.read("bad"), (e) => e instanceof CorruptRecordError && e.message.includes(file));
    await assert.rejects(
      storage.getAllSessionIds(),
      (e) => e instanceof CorruptRecordError && e.message.includes(file),
    );
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: leftover temp files are ignored and cleaned; interrupted batches roll forward", async () => {
  const d = await tempDir("json-leftovers");
  try {
    const storage = new JsonStorage({ dir: d.path });
    await storage.upsert({ sessionId: "a", memory: { v: 1 } });
    const old = `${d.path}/agent/.tmp-crashed`;
    await Deno.writeTextFile(old, "{half");
    await Deno.utime(old, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    // A batch whose writer died after its journal was committed.
    const temp = `${d.path}/agent/.tmp-batch`;
    await Deno.writeTextFile(temp, JSON.stringify({ ...(await storage.read("a")), memory: { v: 2 }, version: 2 }));
    await Deno.writeTextFile(
      `${d.path}/agent/.batch-x`,
      JSON.stringify([[temp, `${d.path}/agent/${await encodeFileName("a")}.json`]]),
    );
    assert.deepEqual(await storage.getAllSessionIds(), ["a"]);
    await storage.create();
    const names = [...Deno.readDirSync(`${d.path}/agent`)].map((e) => e.name).sort();
    assert.deepEqual(names, [".changes", ".journal", ".locks", `${await encodeFileName("a")}.json`]);
    assert.deepEqual((await storage.read("a"))?.memory, { v: 2 });
    await storage.close();
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: 4 processes × 50 read-increment-write cycles lose no update", async () => {
  const d = await tempDir("json-multiprocess");
  try {
    const children = Array.from({ length: 4 }, () => spawnWorker("increment", d.path, "50"));
    const results = await Promise.all(children.map(async (child) => {
      const { code, stdout } = await child.output();
      assert.equal(code, 0);
      return JSON.parse(new TextDecoder().decode(stdout)) as { writes: number; conflicts: number };
    }));
    const writes = results.reduce((n, r) => n + r.writes, 0);
    await using storage = new JsonStorage({ dir: d.path });
    const counter = await storage.read("counter");
    assert.equal(writes, 200);
    assert.equal(counter?.memory?.count, writes, "the counter equals the number of successful writes");
    assert.equal(counter?.version, writes);
    console.log(
      `json multi-process: ${writes} writes, ${results.reduce((n, r) => n + r.conflicts, 0)} conflicts retried`,
    );
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: a writer killed mid-write leaves every session readable", async () => {
  const d = await tempDir("json-crash");
  try {
    for (const delay of [150, 400, 900]) {
      await killWhileWriting(worker, ["churn", d.path], delay);
      await assertSurvivedChurn(d.path);
    }
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: a lock held by a live process excludes writers; once it is killed, writes go on", async () => {
  const d = await tempDir("json-lock");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const holder = spawnWorker("hold", d.path);
    const reader = holder.stdout.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /locked/);
    await using storage = new JsonStorage({ dir: d.path });
    let done = false;
    const write = storage.upsert({ sessionId: "s" }).finally(() => done = true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, false, "the holder's lock excludes another process");
    holder.kill("SIGKILL");
    await holder.status;
    reader.releaseLock();
    await holder.stdout.cancel().catch(() => {});
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("still blocked 5 s after the holder died")), 5000);
    });
    assert.equal((await Promise.race([write, timeout])).version, 1);
    assert.equal((await storage.upsert({ sessionId: "s" }, { expectedVersion: 1 })).version, 2);
  } finally {
    clearTimeout(timer);
    await d.remove();
  }
});

Deno.test("JsonStorage reads and appends to a layout-1 file (written before run logs: no runCount)", async () => {
  const d = await tempDir("json-legacy");
  try {
    await Deno.mkdir(`${d.path}/agent`, { recursive: true });
    const legacy = legacyAgentSession();
    await Deno.writeTextFile(`${d.path}/agent/${await encodeFileName("old")}.json`, JSON.stringify(legacy, null, 2));
    await using storage = new JsonStorage({ dir: d.path });
    assert.deepEqual(await storage.read("old"), legacy);
    assert.deepEqual(await storage.appendRuns("old", [{ turn: 4 }], { userId: "ada" }), { version: 8, runCount: 1 });
    assert.deepEqual((await storage.getRuns("old")).runs.map((r) => r.run), [{ turn: 4 }]);
  } finally {
    await d.remove();
  }
});

Deno.test("JsonStorage: two storages on one directory see each other's writes, deletes, renames and drops", async () => {
  const d = await tempDir("json-shared");
  const dir = d.path;
  const a = new JsonStorage({ dir });
  const b = new JsonStorage({ dir });
  await a.upsert({ sessionId: "x", userId: "u" });
  assert.deepEqual(await b.getAllSessionIds(), ["x"]);
  await a.upsert({ sessionId: "y", userId: "u" });
  await a.deleteSession("x");
  assert.deepEqual(await b.getAllSessionIds(), ["y"]);
  await a.renameSession("y", "named");
  assert.equal((await b.listSessions({ sessionName: "named" })).sessions.length, 1);
  await a.drop();
  assert.deepEqual(await b.getAllSessionIds(), []);
  await a.upsert({ sessionId: "z" });
  assert.deepEqual(await b.getAllSessionIds(), ["z"]);
  await d.remove();
});
