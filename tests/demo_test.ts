import assert from "node:assert/strict";
import { tempDir } from "./support/temp.ts";

const DEMO = new URL("../examples/demo.ts", import.meta.url).pathname;

async function run(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DEMO, ...args],
    cwd,
    env: { NO_COLOR: "1" },
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

async function demoRun(cwd: string, ...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await run(cwd, args);
  assert.equal(code, 0, stderr);
  return stdout;
}

const GREETING = /Hello! I'm a scripted assistant/g;

for (const url of [undefined, "json:./.agentstate/json"]) {
  Deno.test(`deno task demo ${url ?? "(libSQL file)"}: a second run shows the earlier turns, carries on, greets once`, async () => {
    const dir = await tempDir("demo");
    try {
      await resumes(dir.path, url === undefined ? [] : ["--url", url]);
      if (url !== undefined) return;
      const info = await Deno.stat(`${dir.path}/.agentstate/demo.db`);
      assert.equal(info.mode! & 0o777, 0o600, "the database is readable by its owner only");
      assert.equal((await Deno.stat(`${dir.path}/.agentstate`)).mode! & 0o777, 0o700);
    } finally {
      await dir.remove();
    }
  });
}

async function resumes(dir: string, url: string[]): Promise<void> {
  const demo = (...args: string[]) => demoRun(dir, ...url, ...args);
  const first = await demo("--turns", "2");
  assert.match(first, /new session demo-chat/);
  assert.equal(first.match(GREETING)?.length, 1);
  const second = await demo("--turns", "2", "--history", "1");
  assert.match(second, /resumed session demo-chat at turn 2 \(version 2\)/);
  assert.match(
    second,
    /earlier in this conversation \(last 1 turn\(s\)\):\n {2}#2 you: fact #2 .*\n {5}assistant: Noted/,
  );
  assert.doesNotMatch(second, /#1 you/, "--history 1 shows only the last turn");
  assert.match(second, /#4 you: fact #4/);
  assert.equal(second.match(GREETING), null, "no greeting in a resumed conversation");
  assert.match(second, /demo-chat {2}facts=4 {2}version=4/);
  const third = await demo("--turns", "0");
  assert.match(third, /last 4 turn\(s\)[^]*#1 you[^]*#4 you/);
  assert.equal(third.match(GREETING)?.length, 1, "the greeting shows once, as turn #1 of the history");
}

Deno.test("deno task demo: a bad count, an unknown flag or a stray argument is a usage error (exit 2, no stack)", async () => {
  const dir = await tempDir("demo-args");
  try {
    for (
      const [args, said] of [
        [["--turns", "abc"], /--turns expects a whole number from 0 to 1000, got "abc"/],
        [["--turns=-1"], /--turns expects a whole number/],
        [["--history", "1.5"], /--history expects a whole number/],
        [["--bogus"], /Unknown option '--bogus'/],
        [["extra"], /Unexpected argument 'extra'/],
      ] as const
    ) {
      const { code, stdout, stderr } = await run(dir.path, [...args]);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, said);
      assert.match(stderr, /usage: deno task demo/);
      assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
      assert.equal(stdout, "");
    }
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir.path)), [], "nothing was created");
  } finally {
    await dir.remove();
  }
});
