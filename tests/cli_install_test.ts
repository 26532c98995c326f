/**
 * Installing the CLI: from the checkout (`deno task cli`, `deno install … cli/main.ts`) and from the registry
 * (`deno install -g jsr:@agentstate/storage/cli`), the latter through what `deno publish` uploads, served by a local
 * stand-in for JSR (jsr.io is not reachable here).
 */
import assert from "node:assert/strict";
import { LibsqlStorage } from "../backends/libsql.ts";
import config from "../deno.json" with { type: "json" };
import { startJsrRegistry } from "./support/jsr_registry.ts";
import { tempDir } from "./support/temp.ts";

const root = new URL("..", import.meta.url).pathname;
const PATH = `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}`;

/** Runs `cmd` and returns its stdout; fails the test (with stderr) on a non-zero exit. */
async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, { args, cwd, env: { NO_COLOR: "1", PATH, ...env } })
    .output();
  assert.equal(code, 0, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

Deno.test("cli: `deno task cli` and `deno install -g … --config deno.json cli/main.ts` run it", async () => {
  const d = await tempDir("cli-install");
  try {
    assert.match(await run(Deno.execPath(), ["task", "-q", "cli", "--help"], root), /^usage: agentstate <command>/);
    const args = ["install", "-g", "-A", "-n", "agentstate", "--config", "deno.json", "--root", d.path, "cli/main.ts"];
    await run(Deno.execPath(), args, root);
    assert.match(await run(`${d.path}/bin/agentstate`, ["ls", "memory:"], d.path), /^ID +USER +AGENTID/);
  } finally {
    await d.remove();
  }
});

Deno.test("cli: `deno install -g jsr:<package>/cli` of what `deno publish` uploads runs --version and ls", async () => {
  const d = await tempDir("cli-jsr");
  const registry = await startJsrRegistry();
  try {
    const env = { JSR_URL: registry.url };
    // What `deno publish` builds (import map unfurled into the files), uploaded to the stand-in.
    await run(
      Deno.execPath(),
      ["publish", "--token", "test", "--allow-dirty", "--no-check", "--no-provenance"],
      root,
      env,
    );
    const published = registry.published.get(`${config.name}@${config.version}`);
    assert.ok(published, `${config.name}@${config.version} was published`);
    assert.equal(published.exports["./cli"], "./cli/main.ts");
    assert.ok(published.files.has("/cli/main.ts"));
    assert.ok(![...published.files.keys()].some((p) => p.endsWith("_test.ts")), "tests are not published");

    // Installed in an empty directory: no deno.json of the checkout anywhere near.
    const home = `${d.path}/home`;
    await Deno.mkdir(home);
    await run(
      Deno.execPath(),
      ["install", "-g", "-A", "-n", "agentstate", "--root", d.path, `jsr:${config.name}/cli`],
      home,
      env,
    );
    const bin = `${d.path}/bin/agentstate`;
    assert.doesNotMatch(await Deno.readTextFile(bin), new RegExp(root.replace(/[/.]/g, "\\$&")), "no checkout path");
    assert.equal((await run(bin, ["--version"], home, env)).trim(), `agentstate ${config.version}`);
    {
      await using storage = new LibsqlStorage({ url: `file:${home}/s.db` });
      await storage.upsert({ sessionId: "from-jsr", userId: "ada", memory: { n: 1 } });
    }
    const ls = await run(bin, ["ls", "file:s.db"], home, env);
    assert.match(ls, /^ID +USER +AGENTID/);
    assert.match(ls, /\nfrom-jsr +ada +/);
    assert.match(ls, /1 session\(s\)\n$/);
  } finally {
    await registry.close();
    await d.remove();
  }
});
