import assert from "node:assert/strict";
import { tempDir } from "./support/temp.ts";

async function demo(cwd: string, ...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../examples/demo.ts", import.meta.url).pathname, ...args],
    cwd,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("deno task demo: a second run resumes the conversation from the libSQL file", async () => {
  const dir = await tempDir("demo");
  try {
    const first = await demo(dir.path, "--turns", "2");
    assert.match(first, /new session demo-chat/);
    const second = await demo(dir.path, "--turns", "1");
    assert.match(second, /resumed session demo-chat at turn 2 \(version 2\)/);
    assert.match(second, /demo-chat {2}turns=3 {2}version=3/);
    const info = await Deno.stat(`${dir.path}/.agentstate/demo.db`);
    assert.ok(info.isFile);
  } finally {
    await dir.remove();
  }
});
