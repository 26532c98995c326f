// The conformance suite owns setup and teardown per case: a case run alone leaks nothing, a failing case still cleans up.
import assert from "node:assert/strict";
import { MemoryStorage } from "../backends/memory.ts";
import { type AnyStorage, conformanceCases } from "./conformance/mod.ts";
import { skipRedis } from "./support/backends.ts";

const root = new URL("../", import.meta.url).pathname;

/** Pids of running processes whose environment holds `marker` (children inherit it, also once orphaned). */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let environ: string;
    try {
      environ = await Deno.readTextFile(`/proc/${entry.name}/environ`);
    } catch (error) {
      // Ended meanwhile, another user's, or a kernel thread (ESRCH, which Deno reports without a code): not ours.
      const gone = error instanceof Deno.errors.NotFound || /\(os error 3\)/.test(String(error));
      if (gone || error instanceof Deno.errors.PermissionDenied) continue;
      throw error;
    }
    if (environ.includes(marker)) found.push(Number(entry.name));
  }
  return found;
}

const filtered: [file: string, name: string, needsRedis?: boolean][] = [
  ["tests/memory_test.ts", "memory: crud: modes sharing one store never see each other"],
  ["tests/json_test.ts", "json: lifecycle: data survives close when the backend is persistent"],
  ["tests/libsql_test.ts", "libsql file: crud: modes sharing one store never see each other"],
  ["tests/libsql_test.ts", "libsql :memory:: lifecycle: data survives close when the backend is persistent"],
  ["tests/libsql_remote_test.ts", "libsql remote (Hrana over HTTP): lifecycle: data survives close when"],
  ["tests/upstash_test.ts", "upstash: crud: modes sharing one store never see each other", true],
];

for (const [file, name, needsRedis] of filtered) {
  Deno.test({
    name: `deno test --filter on one case of ${file} (${name.split(":")[0]}) leaves no temp dir and no process`,
    ignore: needsRedis ? await skipRedis() : false,
    async fn() {
      const tmp = await Deno.makeTempDir({ prefix: "agentstate-leak-" });
      const marker = `AGENTSTATE_LEAK_MARK=${crypto.randomUUID()}`;
      try {
        const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
          args: ["test", "--config", "deno.dev.json", "--allow-all", file, "--filter", name],
          cwd: root,
          env: { NO_COLOR: "1", TMPDIR: tmp, AGENTSTATE_LEAK_MARK: marker.split("=")[1]! },
        }).output();
        const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
        assert.equal(code, 0, output);
        assert.match(output, /ok \| 1 passed \| 0 failed/, "exactly the one case ran");
        const left = [];
        for await (const entry of Deno.readDir(tmp)) left.push(entry.name);
        assert.deepEqual(left, [], "temp entries left behind");
        assert.deepEqual(await processesWith(marker), [], "processes left running");
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    },
  });
}

Deno.test("every case runs setup and teardown once, disposes of its storages, and cleans up when it fails", async () => {
  const events: string[] = [];
  const open = new Set<AnyStorage>();
  let fail = false;
  const cases = conformanceCases({
    name: "counted",
    setup: () => Promise.resolve(void events.push("setup")),
    teardown: () => Promise.resolve(void events.push("teardown")),
    create(options) {
      if (fail && open.size > 0) return Promise.reject(new Error("second storage refused"));
      const storage = new MemoryStorage(options);
      open.add(storage);
      return Promise.resolve(storage);
    },
    async destroy(storage) {
      open.delete(storage);
      await storage.close();
    },
  }, { groups: ["crud", "lifecycle"] });
  for (const c of cases) await c.fn();
  assert.deepEqual(events, cases.flatMap(() => ["setup", "teardown"]));
  assert.equal(open.size, 0);
  events.length = 0;
  fail = true;
  const twoStorages = cases.find((c) => c.name.endsWith("modes sharing one store never see each other"))!;
  await assert.rejects(twoStorages.fn(), /second storage refused/);
  assert.deepEqual(events, ["setup", "teardown"]);
  assert.equal(open.size, 0, "the storage made before the failure was disposed of");
});
