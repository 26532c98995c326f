/**
 * Typed storages: content shapes as type parameters (checked by `deno check`
 * of this file: no casts below), Standard Schema validators applied on write
 * and on read, and `toJsonValue` for framework objects.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { MemoryStorage } from "../backends/memory.ts";
import { ValidationError } from "../session/errors.ts";
import { toJsonValue } from "../session/to_json.ts";

/** The shape of an AI SDK `ModelMessage` part of a chat, written out here to keep the test free of the framework. */
type ChatMessage = { role: "user" | "assistant"; content: string; providerOptions?: Record<string, unknown> };

Deno.test("typed storage: memory, sessionData and runs carry the caller's types without casts", async () => {
  await using storage = new MemoryStorage<"agent", { messages: ChatMessage[] }, { step: number }, ChatMessage>();
  const stored = await storage.upsert({ sessionId: "t", memory: { messages: [{ role: "user", content: "hi" }] } });
  const first: ChatMessage | undefined = stored.memory?.messages[0];
  assert.equal(first?.content, "hi");
  await storage.appendRuns("t", [{ role: "assistant", content: "hello" }], {
    keys: ["m1"],
    patch: { sessionData: { step: 2 } },
  });
  const run = await storage.getRun("t", "m1");
  const role: "user" | "assistant" | undefined = run?.run.role;
  assert.equal(role, "assistant");
  const updated = await storage.update("t", (s) => ({ ...s!, sessionData: { step: (s?.sessionData?.step ?? 0) + 1 } }));
  assert.equal(updated.sessionData?.step, 3);
});

Deno.test("schemas: validated on write (nothing stored on failure) and on read, issues as ValidationError paths", async () => {
  const memory = z.object({
    messages: z.array(z.object({ role: z.enum(["user", "assistant"]), content: z.string() })),
  });
  const run = z.object({ role: z.enum(["user", "assistant"]), content: z.string() });
  const place = new MemoryStorage({ schemas: { memory, run } });
  await place.upsert({ sessionId: "s", memory: { messages: [{ role: "user", content: "hi" }] } });
  const bad = await place.upsert({ sessionId: "s", memory: { messages: [{ role: "robot", content: "x" }] } }).catch((
    e,
  ) => e);
  assert.ok(bad instanceof ValidationError, String(bad));
  assert.deepEqual(bad.issues[0]!.path, ["memory", "messages", 0, "role"]);
  assert.equal((await place.read("s"))?.version, 1, "a refused write stores nothing");
  const badRun = await place.appendRuns("s", [{ role: "user" }]).catch((e) => e);
  assert.ok(badRun instanceof ValidationError, String(badRun));
  assert.equal((await place.getRuns("s")).runs.length, 0);
  // Stored data written without the schema is checked when read through it.
  const loose = new MemoryStorage({ schemas: { memory: z.object({ turns: z.number() }) } });
  await assert.rejects(loose.upsert({ sessionId: "x", memory: { turns: "1" } }), ValidationError);
  assert.throws(() => new MemoryStorage({ schemas: { memroy: memory } as never }), /schemas\.memroy: unknown key/);
});

Deno.test("toJsonValue: undefined dropped, Date and URL as strings; NaN, binary, Map, class instances and cycles refused", () => {
  const when = new Date(Date.UTC(2026, 0, 2));
  assert.deepEqual(toJsonValue({ a: undefined, b: [undefined, 1], when, url: new URL("https://x.test/p") }), {
    b: [null, 1],
    when: "2026-01-02T00:00:00.000Z",
    url: "https://x.test/p",
  });
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  for (
    const [value, path] of [
      [{ n: NaN }, ["n"]],
      [{ image: new Uint8Array([1]) }, ["image"]],
      [{ m: new Map() }, ["m"]],
      [{ deep: [{ c: new (class Thing {})() }] }, ["deep", 0, "c"]],
      [cycle, ["self"]],
      [{ big: 1n }, ["big"]],
    ] as const
  ) {
    const error = (() => {
      try {
        toJsonValue(value);
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof ValidationError, `refused: ${String(path)}`);
    assert.deepEqual((error as ValidationError).issues[0]!.path, [...path]);
  }
  // A shared (not cyclic) object is fine.
  const shared = { x: 1 };
  assert.deepEqual(toJsonValue({ a: shared, b: shared }), { a: { x: 1 }, b: { x: 1 } });
});
