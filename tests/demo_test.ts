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
    assert.match(second, /resumed session demo-chat at turn 2 \(version 4\)/);
    assert.match(second, /last turn in the run log: #3/);
    assert.match(second, /demo-chat {2}turns=3 {2}version=6/);
    const info = await Deno.stat(`${dir.path}/.agentstate/demo.db`);
    assert.equal(info.mode! & 0o777, 0o600, "the database is readable by its owner only");
    assert.equal((await Deno.stat(`${dir.path}/.agentstate`)).mode! & 0o777, 0o700);
  } finally {
    await dir.remove();
  }
});
