/**
 * LangGraph's own checkpointer validation suite, unmodified, on the npm build of the saver under vitest on Node, in
 * one vitest process: memory (plain and encrypted), libSQL files, JSON files, Upstash (through the REST bridge to a
 * real redis-server started here) and IndexedDB (fake-indexeddb). Each checkpointer starts on an empty storage.
 * Outside CI a machine without Node/npm skips it, and one without redis-server leaves Upstash out; under CI=true
 * either is a failure.
 */
import assert from "node:assert/strict";
import { runSuite, SUITE_DIR, type SuiteCounts } from "./support/langgraph_suite.ts";
import { skipRedis } from "./support/backends.ts";
import { installBuild, installPackages, nodeMissing } from "./support/node_project.ts";
import { startRedisServer, startUpstashBridge } from "./support/upstash_bridge.ts";

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

const noRedis = await skipRedis();
/** The checkpointers expected in the report (Upstash left out only where redis-server is missing outside CI). */
const BACKENDS = ["memory", "memory, encrypted", "libsql file", "json", "upstash", "indexeddb"]
  .filter((b) => !(noRedis && b === "upstash"));

Deno.test({
  name: "LangGraph validation suite passes on memory, libSQL file, JSON, Upstash and IndexedDB (npm build, Node)",
  ignore: missing !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await installPackages(SUITE_DIR);
    await installBuild(SUITE_DIR);
    const redis = noRedis ? null : await startRedisServer();
    const bridge = redis === null ? null : await startUpstashBridge({ redisPort: redis.port });
    try {
      const files = bridge === null ? ["memory", "libsql", "json", "indexeddb"] : [];
      const env: Record<string, string> = bridge === null
        ? {}
        : { AGENTSTATE_UPSTASH_URL: bridge.url, AGENTSTATE_UPSTASH_TOKEN: bridge.token };
      const counts = await runSuite(files, env);
      assert.deepEqual([...counts.keys()].sort(), BACKENDS.map((b) => `AgentstateSaver(${b})`).sort());
      for (const backend of BACKENDS) {
        assertAllPassed(`AgentstateSaver(${backend})`, counts.get(`AgentstateSaver(${backend})`));
      }
    } finally {
      await bridge?.stop();
      await redis?.stop();
    }
  },
});
