/**
 * The JSON backend's lock files (backends/json/lockfile.ts): who counts as
 * dead, takeover of a dead owner's lock, and what is never taken over.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { FileLock, startTime, UNREADABLE_STALE_MS } from "../backends/json/lockfile.ts";
import { tempDir } from "./support/temp.ts";

/** Whether `promise` settles within `ms`. */
async function settles(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((r) => timer = setTimeout(() => r("late"), ms));
  try {
    return await Promise.race([promise.then(() => "done"), late]) === "done";
  } finally {
    clearTimeout(timer);
  }
}

async function withLockDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const d = await tempDir("json-lockfile");
  try {
    await Deno.mkdir(`${d.path}/lock`);
    await fn(`${d.path}/lock`);
  } finally {
    await d.remove();
  }
}

function owner(pid: number, start: string | null, host = hostname()): string {
  return JSON.stringify({ pid, host, start, token: crypto.randomUUID() });
}

/** A process that has exited: its pid names no process (until reused). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("lock files: a writer's lock of a dead process is taken over; the new file names this process", async () => {
  await withLockDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/w`, owner(await deadPid(), null));
    const release = await new FileLock(dir).acquire(true);
    const now = JSON.parse(await Deno.readTextFile(`${dir}/w`));
    assert.equal(now.pid, Deno.pid);
    await release();
    assert.deepEqual([...Deno.readDirSync(dir)], [], "release removes the file");
  });
});

Deno.test("lock files: a live owner excludes until it dies; a reused pid (other start time) does not", async () => {
  await withLockDir(async (dir) => {
    const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      const start = await startTime(sleeper.pid);
      await Deno.writeTextFile(`${dir}/w`, owner(sleeper.pid, start));
      const waiting = new FileLock(dir).acquire(true);
      assert.equal(await settles(waiting, 400), false, "a live owner's lock holds");
      sleeper.kill("SIGKILL");
      await sleeper.status;
      assert.equal(await settles(waiting, 3000), true, "taken over once the owner died");
      await (await waiting)();
      if (start !== null) {
        const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
        try {
          await Deno.writeTextFile(`${dir}/w`, owner(other.pid, String(Number(start) - 1)));
          assert.equal(await settles(new FileLock(dir).acquire(true).then((r) => r()), 3000), true, "pid reused");
        } finally {
          other.kill("SIGKILL");
          await other.status;
        }
      }
    } finally {
      try {
        sleeper.kill("SIGKILL");
      } catch { /* already dead */ }
      await sleeper.status;
    }
  });
});

Deno.test("lock files: this pid with a token it does not hold is an earlier incarnation (container restart)", async () => {
  await withLockDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/w`, owner(Deno.pid, await startTime("self")));
    assert.equal(await settles(new FileLock(dir).acquire(true).then((r) => r()), 3000), true);
  });
});

Deno.test("lock files: an owner on another host and a fresh unreadable file are never taken over; a stale unreadable one is", async () => {
  await withLockDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/w`, owner(await deadPid(), null, `${hostname()}-elsewhere`));
    const reader = new FileLock(dir).acquire(false);
    assert.equal(await settles(reader, 400), false, "another host's lock holds");
    await Deno.remove(`${dir}/w`); // as its owner releasing it
    await (await reader)();
    await Deno.writeTextFile(`${dir}/w`, "");
    const waiting = new FileLock(dir).acquire(true);
    assert.equal(await settles(waiting, 400), false, "a file being written by its creator holds");
    const old = new Date(Date.now() - UNREADABLE_STALE_MS - 1000);
    await Deno.utime(`${dir}/w`, old, old);
    assert.equal(await settles(waiting, 3000), true, "an unreadable file left by a dead writer is taken over");
    await (await waiting)();
  });
});

Deno.test("lock files: readers share; a live reader holds a writer off, a dead reader's file is removed", async () => {
  await withLockDir(async (dir) => {
    const [a, b] = [await new FileLock(dir).acquire(false), await new FileLock(dir).acquire(false)];
    const writer = new FileLock(dir).acquire(true);
    assert.equal(await settles(writer, 300), false, "readers hold the writer off");
    const late = new FileLock(dir).acquire(false);
    assert.equal(await settles(late, 300), false, "a waiting writer goes before new readers");
    await a();
    await b();
    const release = await writer;
    assert.equal(await settles(late, 200), false, "the late reader waits for the writer");
    await release();
    await (await late)();
    await Deno.writeTextFile(`${dir}/r-dead`, owner(await deadPid(), null));
    assert.equal(await settles(new FileLock(dir).acquire(true).then((r) => r()), 3000), true);
    assert.equal(await Deno.stat(`${dir}/r-dead`).catch(() => null), null);
  });
});
