/**
 * Runs LangGraph's checkpointer validation suite (`@langchain/langgraph-checkpoint-validation`, unmodified, under
 * vitest on Node) against the npm build of the saver, installed into tests/langgraph_node with its locked packages
 * (tests/support/node_project.ts), and returns its counts per checkpointer.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { run } from "./node_project.ts";

/** The folder holding the vitest files, their package.json and lock. */
export const SUITE_DIR = fileURLToPath(new URL("../langgraph_node/", import.meta.url));

/** What one vitest run reported for one checkpointer (a top-level `describe` of `validate`). */
export interface SuiteCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Names of the failed tests, for the assertion message. */
  failures: string[];
}

interface VitestJson {
  testResults: { assertionResults: { ancestorTitles: string[]; fullName: string; status: string }[] }[];
}

/** Runs vitest on Node over the `files` (name filters), with `env` added; counts per checkpointer name. */
export async function runSuite(files: string[], env: Record<string, string> = {}): Promise<Map<string, SuiteCounts>> {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const vitest = ["node_modules/vitest/vitest.mjs", "run", ...files, "--reporter=json", `--outputFile=${out}`];
    const { output } = await run("node", vitest, SUITE_DIR, env);
    const text = await Deno.readTextFile(out).catch(() => "");
    if (text === "") throw new Error(`vitest wrote no report:\n${output}`);
    const report = JSON.parse(text) as VitestJson;
    const counts = new Map<string, SuiteCounts>();
    for (const test of report.testResults.flatMap((r) => r.assertionResults)) {
      const name = test.ancestorTitles[0] ?? "?";
      const c = counts.get(name) ?? { passed: 0, failed: 0, skipped: 0, failures: [] };
      if (test.status === "passed") c.passed++;
      else if (test.status === "failed") {
        c.failed++;
        c.failures.push(test.fullName);
      } else c.skipped++;
      counts.set(name, c);
    }
    return counts;
  } finally {
    await Deno.remove(out);
  }
}
