/**
 * `deno task bench`: runs every section side by side and writes
 * bench/RESULTS.md. `--smoke` runs tiny sizes and writes nothing (CI).
 */
import { LibsqlStorage } from "../backends/libsql.ts";
import { libsqlSection } from "./libsql_bench.ts";
import { JsonStorage } from "../backends/json.ts";
import { jsonSection } from "./json_bench.ts";
import { langgraphSection } from "./langgraph_bench.ts";
import { postgresSection } from "./postgres_bench.ts";
import { postgresMastraSection } from "./postgres_mastra_bench.ts";
import { redisSection } from "./redis_bench.ts";
import { remoteSection } from "./remote_bench.ts";
import { runsSection } from "./runs_bench.ts";
import { scalingSection } from "./scaling_bench.ts";
import { upstashSection } from "./upstash_bench.ts";
import { bundleIndexedDb } from "../tests/support/bundle.ts";

const smoke = Deno.args.includes("--smoke");

/** The browser bundle of ./indexeddb (IndexedDbStorage and its dependencies), minified and gzipped. */
async function bundleSection({ dir }: { dir: string }): Promise<string> {
  const { bytes, gzipped } = await bundleIndexedDb(dir);
  return `## Browser bundle of \`./indexeddb\`\n\n\`deno bundle --platform browser --minify\` of IndexedDbStorage: ` +
    `${bytes.length.toLocaleString("en-US")} bytes minified, ${gzipped.toLocaleString("en-US")} bytes gzipped ` +
    `(budget 35 KB gzipped: tests/bundle_size_test.ts). No \`node:\` import, no libSQL or Redis code (checked by tests/browser_test.ts).\n`;
}
const dir = await Deno.makeTempDir({ prefix: "agentstate-bench-" });
const sections: string[] = [];
try {
  const sectionList = [
    ["libsql", libsqlSection],
    ["remote", remoteSection],
    ["json", jsonSection],
    ["upstash", upstashSection],
    ["redis", redisSection],
    ["scaling", scalingSection],
    ["runs", (o: { smoke: boolean; dir: string }) =>
      runsSection(o, [
        ["libsql file", (d, name) => new LibsqlStorage({ url: `file:${d}/${name}.db` })],
        ["json", (d, name) => new JsonStorage({ dir: `${d}/${name}` })],
      ])],
    ["postgres", postgresSection],
    ["postgres vs mastra", postgresMastraSection],
    ["langgraph", langgraphSection],
    ["bundle", bundleSection],
  ] as const;
  for (const [name, section] of sectionList) {
    const started = performance.now();
    sections.push(await section({ smoke, dir }));
    console.error(`bench: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown";
const header = `# Benchmark results\n\nProduced by \`deno task bench\` (bench/main.ts); do not edit by hand.\n\n` +
  `- date: ${new Date().toISOString()}\n- machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ` +
  `${Math.round(Deno.systemMemoryInfo().total / 2 ** 30)} GiB, ${Deno.build.os}/${Deno.build.arch}\n` +
  `- deno ${Deno.version.deno}, V8 ${Deno.version.v8}\n\n` +
  `Figures are from one run on a shared, noisy machine: compare the ratios within a table, not absolute numbers across runs.\n`;
const report = [header, ...sections].join("\n");
if (smoke) console.log(report);
else {
  await Deno.writeTextFile(new URL("./RESULTS.md", import.meta.url), report);
  console.log(report);
}
