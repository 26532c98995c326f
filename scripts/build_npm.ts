/**
 * `deno task npm`: builds the npm package into `npm/` (ESM JavaScript and
 * `.d.ts` compiled by TypeScript from the same sources JSR publishes).
 *
 * Everything the package says comes from deno.json: `exports` become the
 * package's subpaths, `publish.exclude` decides which sources may be
 * compiled, and the import map gives each npm dependency its version range.
 * A dependency is listed only when the emitted JavaScript imports it.
 *
 * Steps: copy the publishable sources into `.tools/npm-build/src` (rewriting
 * inline `npm:` specifiers to package names, and imports of deno.json to
 * package.json, which carries the same name and version), install TypeScript, Node's types
 * and the imported packages there, compile the export entry points and the CLI
 * with `tsc`, then write `npm/package.json` and copy README.md and LICENSE.
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "npm");
const STAGE = join(ROOT, ".tools", "npm-build");
const SRC = join(STAGE, "src");
/** The CLI's source; the package's `bin` points at its JavaScript. */
const CLI_ENTRY = "./cli/main.ts";
const BIN_NAME = "agentstate";
const TOOLS = { typescript: "^5.9", "@types/node": "^20" };
/** Never compiled, whatever publish.exclude says. */
const ALWAYS_SKIPPED = [".git/", ".tools/", "node_modules/", "npm/", "scripts/", ".ci/"];

interface DenoJson {
  name: string;
  version: string;
  license?: string;
  exports: Record<string, string>;
  imports?: Record<string, string>;
  publish?: { exclude?: string[] };
}

/** An npm package named by the import map: `key` is what sources write. */
interface NpmImport {
  key: string;
  name: string;
  range: string;
}

/** Parses `npm:name@range` (scoped or not), or returns null for other specifiers. */
export function parseNpmSpecifier(specifier: string): { name: string; range: string; sub: string } | null {
  const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(specifier);
  if (!match) return null;
  return { name: match[1]!, range: match[2] ?? "*", sub: match[3] ?? "" };
}

function npmImports(config: DenoJson): NpmImport[] {
  const out: NpmImport[] = [];
  for (const [key, value] of Object.entries(config.imports ?? {})) {
    const parsed = parseNpmSpecifier(value);
    if (parsed && !parsed.sub) out.push({ key: key.replace(/\/$/, ""), name: parsed.name, range: parsed.range });
  }
  return out;
}

function excluded(path: string, patterns: string[]): boolean {
  for (const pattern of [...ALWAYS_SKIPPED, ...patterns]) {
    if (pattern.endsWith("/") ? path.startsWith(pattern) || path === pattern.slice(0, -1) : globMatch(pattern, path)) {
      return true;
    }
  }
  return false;
}

function globMatch(pattern: string, path: string): boolean {
  const source = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*");
  return new RegExp(`^${source}$`).test(path);
}

async function* sources(dir: string, patterns: string[]): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = relative(ROOT, join(dir, entry.name)).replaceAll("\\", "/");
    if (excluded(entry.isDirectory ? `${path}/` : path, patterns)) continue;
    if (entry.isDirectory) yield* sources(join(dir, entry.name), patterns);
    else if (/\.(ts|d\.ts)$/.test(entry.name)) yield path;
  }
}

/** Rewrites inline `npm:` specifiers to bare package names; records the ranges they carry. */
export function rewriteNpmSpecifiers(text: string, found: Map<string, string>): string {
  return text.replace(/(["'])(npm:[^"']+)\1/g, (_all, quote: string, specifier: string) => {
    const parsed = parseNpmSpecifier(specifier)!;
    found.set(parsed.name, parsed.range);
    return `${quote}${parsed.name}${parsed.sub}${quote}`;
  });
}

async function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; output: string }> {
  const result = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(result.stdout);
  return { code: result.code, stdout, output: stdout + new TextDecoder().decode(result.stderr) };
}

/** Bare package names a JavaScript file imports (static, re-export and dynamic), comments skipped. */
export function bareImports(js: string): Set<string> {
  const names = new Set<string>();
  const code = js.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\bfrom\s*(["'])([^"']+)\1/gm, // import … from "x"; export … from "x"
    /^\s*import\s*(["'])([^"']+)\1/gm, // import "x"
    /\bimport\(\s*(["'])([^"']+)\1\s*\)/g, // import("x")
  ];
  for (const [, , specifier] of patterns.flatMap((pattern) => [...code.matchAll(pattern)])) {
    if (specifier!.startsWith(".") || specifier!.startsWith("node:")) continue;
    const parts = specifier!.split("/");
    names.add(specifier!.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
  }
  return names;
}

async function* files(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* files(path);
    else yield path;
  }
}

/** Every `.d.ts` reachable from `roots` through relative imports and re-exports. */
async function reachableDeclarations(roots: string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const queue = [...roots];
  for (let path = queue.pop(); path !== undefined; path = queue.pop()) {
    if (seen.has(path)) continue;
    seen.add(path);
    const code = (await Deno.readTextFile(path)).replace(/\/\*[\s\S]*?\*\//g, "");
    for (const [, , specifier] of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)(["'])(\.[^"']+)\1/g)) {
      queue.push(resolve(dirname(path), specifier!.replace(/\.(ts|js)$/, ".d.ts")));
    }
  }
  return seen;
}

function jsPath(tsPath: string): string {
  return tsPath.replace(/\.ts$/, ".js");
}

async function main(): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))) as DenoJson;
  const mapped = npmImports(config);
  const patterns = config.publish?.exclude ?? [];

  // 1. Stage the publishable sources.
  await Deno.remove(SRC, { recursive: true }).catch(() => {});
  const inline = new Map<string, string>();
  const used = new Set<string>();
  for await (const path of sources(ROOT, patterns)) {
    let text = rewriteNpmSpecifiers(await Deno.readTextFile(join(ROOT, path)), inline);
    for (const entry of mapped) {
      const pattern = new RegExp(`(["'])${entry.key.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(/[^"']*)?\\1`, "g");
      if (!pattern.test(text)) continue;
      used.add(entry.name);
      if (entry.key !== entry.name) text = text.replace(pattern, (_a, q, sub = "") => `${q}${entry.name}${sub}${q}`);
    }
    // deno.json read as a JSON module (name, version) is the package's package.json on npm.
    text = text.replace(/(["'])(\.\.?\/[^"']*?)deno\.json\1/g, (all, q: string, dir: string) => {
      return resolve(ROOT, dirname(path), `${dir}deno.json`) === join(ROOT, "deno.json")
        ? `${q}${dir}package.json${q}`
        : all;
    });
    await Deno.mkdir(dirname(join(SRC, path)), { recursive: true });
    await Deno.writeTextFile(join(SRC, path), text);
  }
  const identity = { name: config.name, version: config.version, type: "module" };
  await Deno.writeTextFile(join(SRC, "package.json"), JSON.stringify(identity, null, 2) + "\n");
  const ranges = new Map<string, string>([...inline, ...mapped.map((m) => [m.name, m.range] as const)]);
  for (const name of inline.keys()) used.add(name);
  // A package without its own types has them in `@types/<name>`, named in deno.json next to it.
  const typesOf = (name: string) => ranges.has(`@types/${name}`) ? [`@types/${name}`] : [];
  for (const name of [...used]) typesOf(name).forEach((t) => used.add(t));

  // 2. Install the compiler, Node's types and the packages the sources name.
  const stagePackage = {
    private: true,
    type: "module",
    dependencies: Object.fromEntries([...Object.entries(TOOLS), ...[...used].sort().map((n) => [n, ranges.get(n)!])]),
  };
  await Deno.writeTextFile(join(STAGE, "package.json"), JSON.stringify(stagePackage, null, 2) + "\n");
  const install = await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], STAGE);
  if (install.code !== 0) throw new Error(`npm install in ${STAGE} failed:\n${install.output}`);

  // 3. Compile the export entry points and the CLI.
  const entries = [...new Set([...Object.values(config.exports), CLI_ENTRY])];
  await Deno.remove(OUT, { recursive: true }).catch(() => {});
  // Deno's own types (from `deno types`) type the `Deno.*` calls sources still make;
  // step 4 refuses a `.d.ts` that exposes them to consumers.
  const denoTypes = join(STAGE, "deno.d.ts");
  const types = await run(Deno.execPath(), ["types"], STAGE);
  if (types.code !== 0) throw new Error(`deno types failed:\n${types.output}`);
  await Deno.writeTextFile(denoTypes, types.stdout);
  const tsconfig = {
    files: [...entries.map((e) => join(SRC, e)), denoTypes],
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2023", "ESNext.Disposable", "DOM", "DOM.Iterable"],
      types: ["node"],
      rewriteRelativeImportExtensions: true,
      resolveJsonModule: true,
      declaration: true,
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      rootDir: SRC,
      outDir: OUT,
      newLine: "lf",
    },
  };
  await Deno.writeTextFile(join(STAGE, "tsconfig.json"), JSON.stringify(tsconfig, null, 2) + "\n");
  const tsc = await run(join(STAGE, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], STAGE);
  if (tsc.code !== 0) throw new Error(`tsc failed:\n${tsc.output}`);

  // 4. Check the output: no Deno in the types an export reaches; the dependencies the JavaScript imports.
  const imported = new Set<string>();
  const core = new Set<string>();
  const denoTyped = new Set<string>();
  for await (const path of files(OUT)) {
    const text = await Deno.readTextFile(path);
    if (path.endsWith(".d.ts") && /\bDeno\./.test(text.replace(/\/\*[\s\S]*?\*\//g, ""))) denoTyped.add(path);
    if (path.endsWith(".js")) {
      for (const name of bareImports(text)) {
        imported.add(name);
        if (!relative(OUT, path).startsWith("adapters/")) core.add(name);
      }
    }
  }
  const reached = await reachableDeclarations(entries.map((e) => join(OUT, e.replace(/\.ts$/, ".d.ts"))));
  const exposed = [...denoTyped].filter((path) => reached.has(path)).map((path) => relative(OUT, path));
  if (exposed.length > 0) {
    throw new Error(
      `${exposed.join(", ")} name Deno in types an export reaches: consumers on Node cannot compile them`,
    );
  }
  if (denoTyped.size > 0) {
    const internal = [...denoTyped].map((path) => relative(OUT, path)).sort().join(", ");
    console.log(`note: Deno types in internal declarations no export reaches: ${internal}`);
  }
  // Packages only the framework adapters import (the frameworks) are optional peers: the core stays free of them.
  const dependencies: Record<string, string> = {};
  const peerDependencies: Record<string, string> = {};
  for (const name of [...imported].sort()) {
    const range = ranges.get(name);
    if (!range) throw new Error(`the build imports "${name}", which deno.json's import map does not name`);
    (core.has(name) ? dependencies : peerDependencies)[name] = range;
    // Its types, for TypeScript consumers of the declarations that name it.
    for (const types of typesOf(name)) (core.has(name) ? dependencies : peerDependencies)[types] = ranges.get(types)!;
  }
  const peerDependenciesMeta = Object.fromEntries(Object.keys(peerDependencies).map((n) => [n, { optional: true }]));

  // 5. The CLI runs under node; the package.json.
  const bin = join(OUT, jsPath(CLI_ENTRY));
  const cli = await Deno.readTextFile(bin);
  await Deno.writeTextFile(bin, cli.replace(/^#!.*\n/, "").replace(/^/, "#!/usr/bin/env node\n"));
  await Deno.chmod(bin, 0o755);
  const exports: Record<string, { types: string; default: string }> = {};
  for (const [subpath, target] of Object.entries(config.exports)) {
    exports[subpath] = { types: target.replace(/\.ts$/, ".d.ts"), default: jsPath(target) };
  }
  const pkg = {
    name: config.name,
    version: config.version,
    description: "Save and load AI-agent sessions on libSQL/SQLite, JSON files, Upstash Redis, IndexedDB or memory.",
    license: config.license,
    type: "module",
    engines: { node: ">=20" },
    exports: { ...exports, "./package.json": "./package.json" },
    bin: { [BIN_NAME]: jsPath(CLI_ENTRY).replace(/^\.\//, "") },
    dependencies,
    peerDependencies,
    peerDependenciesMeta,
  };
  await Deno.writeTextFile(join(OUT, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  for (const doc of ["README.md", "LICENSE"]) await Deno.copyFile(join(ROOT, doc), join(OUT, doc));
  console.log(
    `npm/: ${config.name}@${config.version}, ${entries.length} entry points, dependencies: ${
      Object.keys(dependencies).join(", ")
    }`,
  );
}

if (import.meta.main) await main();
