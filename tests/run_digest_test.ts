import assert from "node:assert/strict";
import { RunDigester } from "../session/run_digest.ts";
import type { JsonObject } from "../session/types.ts";

/** The digest stored runs were written with: WebCrypto's SHA-256 of the run's JSON text as UTF-8, in hex. */
async function reference(run: JsonObject): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(run)));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("run digest: unchanged for stored runs (SHA-256 hex of the JSON text), whatever the characters", async () => {
  const digester = new RunDigester();
  assert.equal(
    await digester.digest({ a: 1 }),
    "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862", // sha256sum of {"a":1}
  );
  const runs: JsonObject[] = [
    {},
    { text: "plain ascii", n: 1.5, list: [null, true, false] },
    { "clé": "héllo wörld — ünïcödé", emoji: "🦕🧪", cjk: "漢字かな" },
    { escaped: '\u0000\n\t"\\', lone: "\ud800 and \udfff" }, // JSON.stringify escapes lone surrogates
    { big: "x".repeat(100_000) },
  ];
  for (const run of runs) {
    assert.equal(await digester.digest(run), await reference(run), JSON.stringify(run).slice(0, 40));
  }
});

Deno.test("run digest: keyed by the encryption key when there is one", async () => {
  const run = { a: 1 };
  const keyed = await new RunDigester(new Uint8Array(32).fill(7)).digest(run);
  assert.match(keyed, /^[0-9a-f]{64}$/);
  assert.notEqual(keyed, await reference(run));
  assert.equal(await new RunDigester(new Uint8Array(32).fill(7)).digest(run), keyed);
  assert.notEqual(await new RunDigester(new Uint8Array(32).fill(8)).digest(run), keyed);
});
