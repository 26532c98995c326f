/**
 * Checks what `npm pack` of the built package (npm/) would publish: exactly
 * the library, its types, the conformance suite the `./testing` export needs,
 * package.json, README.md and LICENSE; no tests, test support, bench or
 * examples; every export and the bin present; a size bound. Ends with
 * `N passed, N failed`.
 *
 * Usage: node tests/node/pack_check.mjs [npm-dir] (default: npm)
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Size bounds. Today's build (15 subpaths, the CLI, README) packs to about
 * 255 kB (899 kB unpacked, 217 files); the bounds leave room to grow but catch
 * a stray bundle, test fixture or node_modules.
 */
export const MAX_TARBALL_BYTES = 300_000;
export const MAX_UNPACKED_BYTES = 1_200_000;
/** Packages only the tests and benchmarks use: never a dependency of the package. */
const TEST_ONLY = [/^fast-check$/, /^playwright-core$/, /^unstorage$/, /^@mastra\//, /^fake-indexeddb$/];
/** What may be published besides the export entry points: the library, the conformance suite, docs. */
const ALLOWED = [
  /^(package\.json|README\.md|LICENSE)$/,
  /^(session|backends|engines|cli|adapters)\/[\w/.-]+\.(js|d\.ts)$/,
  /^tests\/(conformance(\/[\w.-]+)?|_assert)\.(js|d\.ts)$/,
];
const FORBIDDEN = [/_test\./, /^tests\/support\//, /^bench\//, /^examples\//, /^scripts\//, /node_modules\//];

const dir = process.argv[2] ?? "npm";
const root = join(dir, "..");
const [report] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: dir, encoding: "utf8" }));
const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const files = new Set(report.files.map((f) => f.path));

let passed = 0, failed = 0;
function check(name, problems) {
  if (problems.length === 0) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failed++;
    console.log(`FAILED - ${name}: ${problems.slice(0, 10).join("; ")}`);
  }
}

const subpaths = Object.keys(pkg.exports).filter((s) => s !== "./package.json");
const targets = subpaths.flatMap((s) => [pkg.exports[s].types, pkg.exports[s].default]).map((t) =>
  t.replace(/^\.\//, "")
);
check(
  "every file is an entry point, library, suite or docs",
  [...files].filter((f) => !targets.includes(f) && !ALLOWED.some((re) => re.test(f))),
);
check("no tests, test support, bench, examples", [...files].filter((f) => FORBIDDEN.some((re) => re.test(f))));
check(
  "every .js has its .d.ts",
  [...files].filter((f) => f.endsWith(".js") && !files.has(f.replace(/\.js$/, ".d.ts"))),
);
check("exports mirror deno.json", [
  ...Object.keys(deno.exports).filter((s) => !subpaths.includes(s)).map((s) => `missing ${s}`),
  ...subpaths.filter((s) => !(s in deno.exports)).map((s) => `extra ${s}`),
]);
check("every export target is packed", targets.filter((t) => !files.has(t)));
const bins = Object.values(pkg.bin ?? {}).map((b) => b.replace(/^\.\//, ""));
check("bin agentstate is packed and starts with a node shebang", [
  ...(pkg.bin?.agentstate ? [] : ["no bin agentstate"]),
  ...bins.filter((b) => !files.has(b)).map((b) => `${b} not packed`),
  ...bins.filter((b) => files.has(b) && !readFileSync(join(dir, b), "utf8").startsWith("#!/usr/bin/env node\n"))
    .map((b) => `${b}: no node shebang`),
]);
check("type module, engines node >=20", [
  ...(pkg.type === "module" ? [] : [`type ${pkg.type}`]),
  ...(pkg.engines?.node === ">=20" ? [] : [`engines.node ${pkg.engines?.node}`]),
]);
const deps = Object.entries(pkg.dependencies ?? {});
check("no test- or bench-only dependency", deps.filter(([n]) => TEST_ONLY.some((re) => re.test(n))).map(([n]) => n));
check(
  "dependency ranges are deno.json's",
  deps.filter(([n, r]) => !Object.values(deno.imports).includes(`npm:${n}@${r}`)).map(([n, r]) => `${n}@${r}`),
);
const peers = Object.keys(pkg.peerDependencies ?? {});
check("the framework adapters' packages are optional peers, not dependencies", [
  ...peers.filter((n) => pkg.peerDependenciesMeta?.[n]?.optional !== true).map((n) => `${n} not optional`),
  ...deps.filter(([n]) => /^(ai|@openai\/|@langchain\/)/.test(n)).map(([n]) => `${n} is a dependency`),
  ...["ai", "@openai/agents-core", "@langchain/langgraph-checkpoint"].filter((n) => !peers.includes(n))
    .map((n) => `${n} not a peer`),
]);
check("name and version are deno.json's", [
  ...(pkg.name === deno.name ? [] : [`name ${pkg.name}`]),
  ...(pkg.version === deno.version ? [] : [`version ${pkg.version}`]),
]);
check(`tarball under ${MAX_TARBALL_BYTES} bytes`, report.size > MAX_TARBALL_BYTES ? [`${report.size} bytes`] : []);
check(
  `unpacked under ${MAX_UNPACKED_BYTES} bytes`,
  report.unpackedSize > MAX_UNPACKED_BYTES ? [`${report.unpackedSize} bytes`] : [],
);
console.log(
  `pack: ${report.filename}, ${report.entryCount} files, ${report.size} bytes, ${report.unpackedSize} unpacked`,
);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
