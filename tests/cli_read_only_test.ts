// The CLI's read-only commands (ls, show, export, copy's source) open a libSQL file read-only, so a backup on
// read-only media can be inspected and exported.
import assert from "node:assert/strict";
import { cli, ok } from "./support/cli.ts";
import { readOnlyBackup } from "./support/read_only.ts";
import { tempDir } from "./support/temp.ts";

Deno.test("cli: ls, show, export and copy read a libSQL file on read-only media; rm is refused", async () => {
  const dir = await tempDir("cli-readonly");
  const out = await tempDir("cli-readonly-out");
  try {
    const { path, restore } = await readOnlyBackup(dir.path);
    try {
      assert.match((await ok(out.path, "ls", `file:${path}`)).stdout, /kept/);
      assert.match((await ok(out.path, "show", `file:${path}`, "kept")).stdout, /turns/);
      assert.match((await ok(out.path, "export", `file:${path}`)).stdout, /"kept"/);
      await ok(out.path, "copy", `file:${path}`, `json:${out.path}/copy`);
      assert.match((await ok(out.path, "ls", `json:${out.path}/copy`)).stdout, /kept/);
      const refused = await cli(out.path, ["rm", `file:${path}`, "kept"]);
      assert.notEqual(refused.code, 0, "a write on read-only media fails");
    } finally {
      await restore();
    }
  } finally {
    await dir.remove();
    await out.remove();
  }
});
