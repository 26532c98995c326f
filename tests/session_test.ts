import assert from "node:assert/strict";
import { compareIds, decodeCursor, encodeCursor, parseSessionInput } from "../backend.ts";
import { ConflictError, openStorage, StorageError, ValidationError } from "../mod.ts";
import { MemoryStorage } from "../backends/memory.ts";

Deno.test("compareIds() orders like UTF-8 bytes (code points), not UTF-16 units", () => {
  const ids = ["\uffff", "😀", "a", "", "\u0000", "ab", "\ue000", "𐀀", "Z"];
  const bytes = (s: string) => [...new TextEncoder().encode(s)];
  const byBytes = [...ids].sort((a, b) => {
    const x = bytes(a), y = bytes(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  });
  assert.deepEqual([...ids].sort(compareIds), byBytes);
  assert.notDeepEqual([...ids].sort(), byBytes, "plain sort differs, so this test can fail");
});

Deno.test("encodeCursor() and decodeCursor() round-trip and refuse other sorts or garbage", () => {
  const cursor = encodeCursor("updatedAt", "asc", { value: 42, sessionId: "é/😀" });
  assert.deepEqual(decodeCursor(cursor, "updatedAt", "asc"), { value: 42, sessionId: "é/😀" });
  assert.throws(() => decodeCursor(cursor, "createdAt", "asc"), ValidationError);
  assert.throws(() => decodeCursor(cursor, "updatedAt", "desc"), ValidationError);
  assert.throws(() => decodeCursor("%%%", "updatedAt", "asc"), ValidationError);
  assert.throws(() => decodeCursor(btoa("[1,2]"), "updatedAt", "asc"), ValidationError);
});

Deno.test("parseSessionInput() walks 10 000 nesting levels without overflowing, and refuses past 1 000", () => {
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 10_000; i++) deep = { d: deep };
  const error = assert.throws(() => parseSessionInput("agent", { sessionId: "s", memory: deep }), ValidationError);
  void error;
  let ok: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < 999; i++) ok = { d: ok };
  assert.equal(parseSessionInput("agent", { sessionId: "s", memory: ok }).memory, ok);
});

Deno.test("ValidationError names the path and keeps the issues", () => {
  try {
    parseSessionInput("team", { sessionId: "s", teamData: { list: [1, undefined] } });
    assert.fail("expected a ValidationError");
  } catch (error) {
    assert.ok(error instanceof ValidationError && error instanceof StorageError);
    assert.match(error.message, /teamData\.list\[1\]/);
    assert.deepEqual(error.issues[0]?.path, ["teamData", "list", 1]);
  }
});

Deno.test("ConflictError carries expected and actual versions", () => {
  const error = new ConflictError("s", 1, 2);
  assert.deepEqual([error.name, error.sessionId, error.expected, error.actual], ["ConflictError", "s", 1, 2]);
});

Deno.test("openStorage() refuses unknown schemes and picks backends by URL", async () => {
  await assert.rejects(
    openStorage("ftp://x"),
    (e) => e instanceof ValidationError && /unknown storage URL/.test(e.message),
  );
  await assert.rejects(openStorage(""), ValidationError);
  await assert.rejects(openStorage("indexeddb:x"), (e) => e instanceof ValidationError && /browser/.test(e.message));
  await assert.rejects(
    openStorage("upstash+https://example.invalid"),
    (e) => e instanceof ValidationError && /token/.test(e.message),
  );
  await assert.rejects(openStorage("json:"), ValidationError);
  await using memory = await openStorage("memory:", { mode: "workflow" });
  assert.deepEqual([memory.backend, memory.mode], ["memory", "workflow"]);
  await using libsql = await openStorage(":memory:");
  assert.equal(libsql.backend, "libsql");
  await libsql.upsert({ sessionId: "x" });
  assert.equal((await libsql.read("x"))?.version, 1);
});

Deno.test("importing mod.ts needs no permissions", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `const m = await import(${JSON.stringify(mod)});\nconsole.log(typeof m.LibsqlStorage);\n`,
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--config", new URL("../deno.json", import.meta.url).pathname, script],
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.equal(new TextDecoder().decode(stdout).trim(), "function");
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("constructor options must be a plain object: null, an array or a class instance is a ValidationError", () => {
  for (const bad of [null, [], new Map(), "agent"]) {
    assert.throws(() => new MemoryStorage(bad as never), ValidationError, String(bad));
  }
  assert.throws(
    () => new MemoryStorage({ mode: "agent", ttlMS: 5 } as never),
    /ttlMS: unknown option.*did you mean ttlMs/,
  );
  assert.equal(new MemoryStorage(Object.assign(Object.create(null), { mode: "team" })).mode, "team");
});
