// What a user of the library, of `deno task demo` or of the installed CLI downloads: the library's runtime packages
// only. Test- and bench-only packages live in deno.dev.json (and its lock, deno.dev.lock), which the test and bench
// tasks pass with --config; Deno downloads every npm package of the lockfile it uses, so they must stay out of
// deno.lock too.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

interface Config {
  imports: Record<string, string>;
}

const readJson = async <T>(name: string): Promise<T> => JSON.parse(await Deno.readTextFile(`${root}${name}`));
const config = await readJson<Config>("deno.json");
const dev = await readJson<Config>("deno.dev.json");
const devOnly = Object.keys(dev.imports).filter((name) => !(name in config.imports));

/** The npm package names (no versions) `deno info` lists for `entry`, resolved with the root deno.json. */
async function npmPackages(entry: string): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as { npmPackages: Record<string, unknown> };
  return Object.keys(info.npmPackages).map((id) => id.slice(0, id.indexOf("@", 1)));
}

Deno.test("deno.json imports only the library's runtime packages; deno.dev.json adds the rest, same versions", () => {
  assert.deepEqual(Object.keys(config.imports).sort(), [
    "@libsql/client",
    "@redis/client",
    "@types/pg",
    "@upstash/redis",
    "idb-keyval",
    "libsql",
    "pg",
  ]);
  for (const [name, target] of Object.entries(config.imports)) assert.equal(dev.imports[name], target, name);
  assert.ok(devOnly.includes("@mastra/core") && devOnly.includes("playwright-core"), devOnly.join(", "));
});

Deno.test("deno.lock pins the runtime packages only (Deno downloads every npm package of its lockfile)", async () => {
  const lock = await readJson<{ specifiers: Record<string, string> }>("deno.lock");
  const locked = Object.keys(lock.specifiers).map((s) => s.replace(/^npm:/, "").replace(/@[^@]*$/, "")).sort();
  // Type-only packages (@types/…) are locked when something type-checks, not by a run: compared without them.
  const code = (names: string[]) => names.filter((name) => !name.startsWith("@types/")).sort();
  assert.deepEqual(code(locked), code(Object.keys(config.imports)));
});

for (const entry of ["examples/demo.ts", "mod.ts", "cli/main.ts"]) {
  Deno.test(`${entry} resolves no test or bench package`, async () => {
    const packages = await npmPackages(entry);
    const leaked = packages.filter((name) => devOnly.includes(name) || name.startsWith("@mastra/") || name === "zod");
    assert.deepEqual(leaked, []);
    assert.ok(packages.length <= 45, `${packages.length} npm packages: ${packages.join(", ")}`);
  });
}
