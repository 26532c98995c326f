/**
 * `deno task bench`: runs every section side by side and writes
 * bench/RESULTS.md. `--smoke` runs tiny sizes and writes nothing (CI).
 */
import { LibsqlStorage } from "../backends/libsql.ts";
import { libsqlSection } from "./libsql_bench.ts";
import { runsSection } from "./runs_bench.ts";

const smoke = Deno.args.includes("--smoke");
const dir = await Deno.makeTempDir({ prefix: "agentstate-bench-" });
const sections: string[] = [];
try {
  const sectionList = [
    ["libsql", libsqlSection],
    ["runs", (o: { smoke: boolean; dir: string }) =>
      runsSection(o, [
        ["libsql file", (d, name) => new LibsqlStorage({ url: `file:${d}/${name}.db` })],
      ])],
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
