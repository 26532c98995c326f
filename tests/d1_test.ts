/**
 * D1Storage in real workerd: the conformance suite bundled with the backend
 * into a Worker (tests/support/d1_worker.ts), served by miniflare with a
 * local D1 database, each case run by one request.
 */
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { D1Storage } from "../backends/d1.ts";
import { ValidationError } from "../session/errors.ts";
import { tempDir } from "./support/temp.ts";

/**
 * Cases D1 cannot pass, with the error they must fail with: D1 refuses a
 * string or BLOB over 2 000 000 bytes (its documented limit), so a 5 MB
 * payload is refused, as a StorageError, instead of stored.
 */
const D1_LIMITS = new Map([
  ["d1: validation: 1 000 levels of nesting and a 5 MB payload round-trip; 10 000 levels are refused", /SQLITE_TOOBIG/],
]);

/** Bundles the Worker with `deno bundle` and returns its source. */
async function bundleWorker(): Promise<string> {
  const dir = await tempDir("d1-worker");
  try {
    const entry = new URL("./support/d1_worker.ts", import.meta.url).pathname;
    const output = `${dir.path}/worker.js`;
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", entry, "-o", output],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(result.stderr)}`);
    return await Deno.readTextFile(output);
  } finally {
    await dir.remove();
  }
}

Deno.test({
  name: "d1 (workerd via miniflare): the conformance suite inside a Worker",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const mf = new Miniflare({
      modules: true,
      script: await bundleWorker(),
      d1Databases: { DB: "conformance" },
      compatibilityDate: "2025-09-01",
    });
    try {
      const names = await (await mf.dispatchFetch("http://worker/cases")).json() as string[];
      assert.ok(names.length >= 70, `only ${names.length} cases`);
      let passed = 0;
      for (const [i, name] of names.entries()) {
        await t.step(name, async () => {
          const result = await (await mf.dispatchFetch(`http://worker/run?case=${i}`)).json() as {
            ok: boolean;
            error?: string;
          };
          const limit = D1_LIMITS.get(name);
          if (limit) {
            assert.equal(result.ok, false, "passes now: remove it from D1_LIMITS");
            assert.match(result.error!, /^StorageError: d1: /);
            assert.match(result.error!, limit);
            return;
          }
          if (!result.ok) throw new Error(result.error);
          passed++;
        });
      }
      console.log(`d1 in workerd: ${passed} of ${names.length} cases passed, ${D1_LIMITS.size} refused at D1's limits`);
    } finally {
      await mf.dispose();
    }
  },
});

Deno.test("D1Storage: a missing or wrong binding and a bad table are ValidationErrors", () => {
  assert.throws(() => new D1Storage({ database: {} as never }), ValidationError);
  const database = { prepare: () => ({}) as never, batch: () => Promise.resolve([]) };
  assert.throws(() => new D1Storage({ database, table: "sqlite_x" }), ValidationError);
  assert.throws(() => new D1Storage({ database, table: "a-b" }), ValidationError);
  assert.equal(new D1Storage({ database, mode: "team" }).table, "team_sessions");
});
