/**
 * LangGraph's own checkpointer validation suite, unmodified, on the saver built to JavaScript: memory (plain and
 * encrypted) and IndexedDB (fake-indexeddb) under vitest on Node, JSON files under vitest on Deno (JsonStorage uses
 * Deno's file APIs). Each checkpointer starts on an empty storage. Outside CI a machine without Node/npm skips it;
 * under CI=true that is a failure.
 */
import assert from "node:assert/strict";
import { buildSaver, installSuite, nodeMissing, runSuite, type SuiteCounts } from "./support/langgraph_suite.ts";

const missing = await nodeMissing();
if (missing !== null && Deno.env.get("CI") === "true") {
  throw new Error(`the LangGraph validation suite needs Node 20+ and npm on PATH: ${missing}`);
}

/** Every test the suite defines passed (none failed, none skipped, the count it has today or more). */
function assertAllPassed(name: string, counts: SuiteCounts | undefined): void {
  assert.ok(counts, `no results for ${name}`);
  assert.deepEqual(counts.failures, [], `${name}: ${counts.failed} failed`);
  assert.equal(counts.skipped, 0, `${name}: ${counts.skipped} skipped`);
  assert.ok(counts.passed >= 718, `${name}: only ${counts.passed} passed`);
  console.log(`${name}: ${counts.passed} passed, ${counts.failed} failed`);
}

Deno.test({
  name: "LangGraph validation suite passes on memory, IndexedDB (Node) and JSON (Deno)",
  ignore: missing !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await installSuite();
    await buildSaver();
    const [node, deno] = await Promise.all([
      runSuite("node", ["memory", "indexeddb"]),
      runSuite("deno", ["json"]),
    ]);
    assertAllPassed("AgentstateSaver(memory)", node.get("AgentstateSaver(memory)"));
    assertAllPassed("AgentstateSaver(memory, encrypted)", node.get("AgentstateSaver(memory, encrypted)"));
    assertAllPassed("AgentstateSaver(indexeddb)", node.get("AgentstateSaver(indexeddb)"));
    assertAllPassed("AgentstateSaver(json)", deno.get("AgentstateSaver(json)"));
  },
});
