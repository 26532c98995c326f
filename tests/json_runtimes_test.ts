/**
 * The JSON backend's cross-process guarantees across runtimes: Deno, Node.js
 * and Bun processes (the worker bundled for the latter two) share one
 * directory. A runtime that is missing skips these tests, or fails them
 * when CI=true.
 */
import assert from "node:assert/strict";
import { JsonStorage } from "../backends/json.ts";
import {
  DENO,
  killWorkerWhileWriting,
  otherRuntimes,
  spawnJsonWorkerOn,
  type WorkerRuntime,
} from "./support/json_spawn.ts";
import { assertSurvivedChurn } from "./support/json_churn.ts";
import { tempDir } from "./support/temp.ts";

const { runtimes, missing } = await otherRuntimes();
const CI = Deno.env.get("CI") === "true";

Deno.test({
  name: "json runtimes: Node.js and Bun are here (required when CI=true)",
  ignore: !CI && missing.length > 0,
  fn() {
    assert.deepEqual(missing, [], `missing runtimes: ${missing.join(", ")}`);
  },
});

async function output(child: Deno.ChildProcess): Promise<string> {
  const { code, stdout } = await child.output();
  assert.equal(code, 0);
  return new TextDecoder().decode(stdout);
}

Deno.test({
  name:
    "json runtimes: Deno, Node.js and Bun processes × 40 read-increment-write cycles on one directory lose no update",
  ignore: runtimes.length === 0,
  async fn() {
    const d = await tempDir("json-mixed");
    try {
      const all = [DENO, DENO, ...runtimes, ...runtimes];
      const results = await Promise.all(all.map(async (runtime) => {
        const line = await output(spawnJsonWorkerOn(runtime, "increment", d.path, "40"));
        return { runtime: runtime.name, ...JSON.parse(line) as { writes: number; conflicts: number } };
      }));
      await using storage = new JsonStorage({ dir: d.path });
      const counter = await storage.read("counter");
      assert.equal(counter?.memory?.count, 40 * all.length, "the counter equals the number of writes");
      assert.equal(counter?.version, 40 * all.length);
      const conflicts = results.reduce((n, r) => n + r.conflicts, 0);
      console.log(
        `json mixed runtimes (${all.map((r) => r.name).join(", ")}): ${counter?.version} writes, ` +
          `${conflicts} conflicts retried`,
      );
    } finally {
      await d.remove();
    }
  },
});

for (const runtime of runtimes) {
  Deno.test(`json runtimes: a ${runtime.name} writer killed mid-write leaves every session readable and no lock held`, async () => {
    const d = await tempDir(`json-crash-${runtime.name}`);
    try {
      for (const delay of [150, 500]) {
        await killWorkerWhileWriting(runtime, ["churn", d.path], delay);
        await assertSurvivedChurn(d.path);
        // And the same runtime carries on after its own crash.
        assert.match(await output(spawnJsonWorkerOn(runtime, "increment", d.path, "3")), /"writes":3/);
      }
    } finally {
      await d.remove();
    }
  });

  for (const [holder, writer] of [[runtime, DENO], [DENO, runtime]] as [WorkerRuntime, WorkerRuntime][]) {
    Deno.test(`json runtimes: a ${holder.name} lock holder excludes a ${writer.name} writer until it is killed`, async () => {
      const d = await tempDir("json-lock-runtimes");
      try {
        const held = spawnJsonWorkerOn(holder, "hold", d.path);
        const reader = held.stdout.getReader();
        assert.match(new TextDecoder().decode((await reader.read()).value), /locked/);
        const write = spawnJsonWorkerOn(writer, "increment", d.path, "1");
        const first = await Promise.race([write.status, new Promise((r) => setTimeout(() => r("waiting"), 700))]);
        assert.equal(first, "waiting", "the writer waits for the holder");
        held.kill("SIGKILL");
        await held.status;
        reader.releaseLock();
        await held.stdout.cancel().catch(() => {});
        assert.match(await output(write), /"writes":1/, "the dead holder's lock is taken over");
      } finally {
        await d.remove();
      }
    });
  }
}

Deno.test({
  name: "json runtimes: lock acquisition cost (uncontended, µs)",
  ignore: runtimes.length === 0,
  async fn() {
    const d = await tempDir("json-lock-cost");
    try {
      for (const runtime of [DENO, ...runtimes]) {
        const cost = JSON.parse(await output(spawnJsonWorkerOn(runtime, "lockcost", d.path, "500")));
        assert.ok(cost.exclusiveUs > 0 && cost.sharedUs > 0);
        console.log(`json lock on ${runtime.name}: exclusive ${cost.exclusiveUs} µs, shared ${cost.sharedUs} µs`);
      }
    } finally {
      await d.remove();
    }
  },
});
