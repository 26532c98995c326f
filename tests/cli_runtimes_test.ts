/**
 * The CLI outside Deno: cli/main.ts bundled for Node.js (lowered to Node 20)
 * and run by Node.js and Bun on json: directories: version, import from
 * stdin and from a file, ls, show, export to stdout and to a file, an
 * export piped into an import, and its errors. (file: needs the native
 * libSQL package, which a bundle cannot carry: the npm package's own tests
 * run `npx agentstate ls file:…`.) A missing runtime skips these tests, or
 * fails them when CI=true.
 */
import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };
import { runCommand } from "./support/cli.ts";
import { bundleForNode, nodeAndBun } from "./support/runtimes.ts";
import { tempDir } from "./support/temp.ts";

const { runtimes, missing } = await nodeAndBun();
const CI = Deno.env.get("CI") === "true";
const script = runtimes.length > 0 ? await bundleForNode(new URL("../cli/main.ts", import.meta.url).pathname) : "";

Deno.test({
  name: "cli runtimes: Node.js and Bun are here (required when CI=true)",
  ignore: !CI && missing.length > 0,
  fn() {
    assert.deepEqual(missing, [], `missing runtimes: ${missing.join(", ")}`);
  },
});

const EXPORT = [
  JSON.stringify({ agentstate: "export", version: 1, mode: "agent" }),
  JSON.stringify({
    session: {
      sessionId: "chat-1",
      userId: "ada",
      sessionName: "trip",
      agentId: null,
      teamSessionId: null,
      memory: { note: "é" },
      sessionData: null,
      extraData: null,
      agentData: null,
      createdAt: 1_700_000_000_000,
      updatedAt: 1_700_000_000_500,
      version: 1,
    },
    runs: [{ seq: 1, key: null, createdAt: 1_700_000_000_100, run: { said: "hello" } }],
  }),
].join("\n") + "\n";

for (const runtime of runtimes) {
  const run = (cwd: string, args: string[], stdin?: string) =>
    runCommand(runtime.command, [script, ...args], cwd, stdin);

  Deno.test(`cli on ${runtime.name}: import, ls, show, export and errors on json: directories`, async () => {
    const d = await tempDir(`cli-${runtime.name}`);
    try {
      assert.deepEqual(await run(d.path, ["--version"]), {
        code: 0,
        stdout: `agentstate ${config.version}\n`,
        stderr: "",
      });
      const imported = await run(d.path, ["import", "json:a", "-q"], EXPORT);
      assert.deepEqual(imported, { code: 0, stdout: "imported 1, skipped 0\n", stderr: "" });
      const ls = await run(d.path, ["ls", "json:a"]);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /^chat-1 +ada +- +trip +1 +2023-11-14 22:13:20 +2023-11-14 22:13:20$/m);
      const show = await run(d.path, ["show", "json:a", "chat-1", "--runs", "5"]);
      assert.match(show.stdout, /"note": "é"/);
      assert.match(show.stdout, /#1 .* \{"said":"hello"\}/);
      const exported = await run(d.path, ["export", "json:a", "-q"]);
      assert.deepEqual(exported, { code: 0, stdout: EXPORT, stderr: "" });
      // The export piped into an import (stdin read once with --on-conflict skip, spooled otherwise).
      assert.equal(
        (await run(d.path, ["import", "json:b", "--on-conflict", "skip", "-q"], exported.stdout)).stdout,
        "imported 1, skipped 0\n",
      );
      assert.equal((await run(d.path, ["import", "json:b", "-q"], exported.stdout)).code, 1, "fail on an existing id");
      const toFile = await run(d.path, ["export", "json:b", "--out", "b.ndjson", "-q"]);
      assert.equal(toFile.code, 0, toFile.stderr);
      assert.equal(await Deno.readTextFile(`${d.path}/b.ndjson`), EXPORT);
      assert.equal((await Deno.stat(`${d.path}/b.ndjson`)).mode! & 0o777, 0o600);
      assert.equal(
        (await run(d.path, ["import", "json:c", "--in", "b.ndjson", "-q"])).stdout,
        "imported 1, skipped 0\n",
      );
      const missingFile = await run(d.path, ["import", "json:c", "--in", "missing.ndjson"]);
      assert.equal(missingFile.code, 1);
      // Bun names the file by its absolute path.
      assert.match(missingFile.stderr, /^agentstate: (\/.*\/)?missing\.ndjson: no such file or directory\n$/);
      const usage = await run(d.path, ["lss", "json:a"]);
      assert.deepEqual(usage, { code: 2, stdout: "", stderr: 'agentstate: unknown command "lss"; did you mean ls?\n' });
    } finally {
      await d.remove();
    }
  });
}
