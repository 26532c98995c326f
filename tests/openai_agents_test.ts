/**
 * `AgentstateSession` with the real `@openai/agents-core`: the `Session`
 * contract, the history transactions, and the SDK's own `run()` with a
 * deterministic `Model` (no network), on the storage an initializer makes,
 * so the same cases run on every backend.
 */
import assert from "node:assert/strict";
import {
  Agent,
  type AgentInputItem,
  MemorySession,
  type Model,
  type ModelRequest,
  type ModelResponse,
  OutputGuardrailTripwireTriggered,
  run,
  setTracingDisabled,
  tool,
  Usage,
  UserError,
} from "@openai/agents-core";
import { z } from "zod";
import { AgentstateSession } from "../adapters/openai_agents.ts";
import { jsonBackend, libsqlFileBackend, memoryBackend, upstashBackend } from "./support/backends.ts";
import { UserMismatchError } from "../session/errors.ts";
import { toJsonValue } from "../session/to_json.ts";
import type { AnyStorage, StoreTestInitializer } from "./conformance/mod.ts";

setTracingDisabled(true);

const user = (text: string): AgentInputItem => ({ type: "message", role: "user", content: text });
const reply = (text: string): AgentInputItem => ({
  type: "message",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text }],
});
const call = (callId: string, args: string): AgentInputItem => ({
  type: "function_call",
  callId,
  name: "lookup",
  arguments: args,
  status: "completed",
});
const textOf = (item: AgentInputItem | undefined): string =>
  JSON.stringify(item && "content" in item ? item.content : null);

/** A model that answers with how many input items it saw and the last user text, or calls `lookup` once when asked. */
class CountingModel implements Model {
  readonly requests: ModelRequest[] = [];
  getResponse(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(structuredClone(request));
    const input = typeof request.input === "string" ? [user(request.input)] : request.input;
    const lastUser = input.findLast((i) => "role" in i && i.role === "user");
    const text = lastUser && "content" in lastUser && typeof lastUser.content === "string" ? lastUser.content : "";
    const called = input.some((i) => i.type === "function_call_result");
    if (text.startsWith("look up") && !called) {
      return Promise.resolve({ usage: new Usage(), output: [call("c1", JSON.stringify({ q: text }))] as never });
    }
    const answer = reply(`seen ${input.length} items; last: ${text}${called ? " (with lookup)" : ""}`);
    return Promise.resolve({ usage: new Usage(), output: [answer] as never });
  }
  // deno-lint-ignore require-yield
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error("not used");
  }
}

async function withStorage(init: StoreTestInitializer, fn: (storage: AnyStorage) => Promise<void>): Promise<void> {
  await init.setup?.();
  const storage = await init.create({ mode: "agent" }, "openai-agents");
  try {
    await fn(storage);
  } finally {
    await (init.destroy ? init.destroy(storage) : storage.close());
    await init.teardown?.();
  }
}

/** Registers the OpenAI Agents cases on the backend `init` makes. */
export function openAiAgentsTests(init: StoreTestInitializer): void {
  const test = (name: string, fn: (storage: AnyStorage) => Promise<void>) =>
    Deno.test(`openai-agents on ${init.name}: ${name}`, () => withStorage(init, fn));

  test("getItems, addItems, popItem and clearSession round-trip", async (storage) => {
    const session = new AgentstateSession({ storage, sessionId: "s1", userId: "ada" });
    assert.equal(await session.getSessionId(), "s1");
    assert.deepEqual(await session.getItems(), []);
    assert.equal(await session.popItem(), undefined, "no session yet: nothing to pop");
    const items = [user("hi"), { ...reply("hello"), providerData: undefined } as AgentInputItem, user("bye")];
    await session.addItems(items);
    await session.addItems([]);
    const stored = toJsonValue(items);
    assert.deepEqual(await session.getItems(), stored, "items come back as their JSON, undefined fields dropped");
    assert.deepEqual(await session.getItems(2), (stored as unknown[]).slice(1));
    assert.deepEqual(await session.getItems(10), stored);
    assert.deepEqual(await session.getItems(0), []);
    assert.deepEqual(await session.popItem(), stored && (stored as unknown[])[2]);
    assert.equal((await session.getItems()).length, 2);
    assert.equal((await storage.read("s1"))?.userId, "ada", "the first write created the session for its user");

    const other = new AgentstateSession({ storage, sessionId: "s1", userId: "bob" });
    assert.deepEqual(await other.getItems(), [], "another user's history is not read");
    await assert.rejects(other.addItems([user("x")]), UserMismatchError);

    await session.clearSession();
    assert.deepEqual(await session.getItems(), []);
    assert.equal(await storage.read("s1"), null);
    await session.addItems([user("again")]);
    assert.equal((await session.getItems()).length, 1);
  });

  test("getItems(limit) beyond one page", async (storage) => {
    const session = new AgentstateSession({ storage, sessionId: "long" });
    const items = Array.from({ length: 1500 }, (_, i) => user(`m${i}`));
    await session.addItems(items.slice(0, 1000));
    await session.addItems(items.slice(1000));
    assert.deepEqual(await session.getItems(), items);
    assert.deepEqual(await session.getItems(1200), items.slice(300));
  });

  test("history transactions are idempotent by operationId and all or nothing", async (storage) => {
    const session = new AgentstateSession({ storage, sessionId: "tx" });
    await session.addItems([user("q")]);
    const append = { type: "append_items" as const, items: [reply("a1"), reply("a2")] };
    await session.applyHistoryTransaction({ operationId: "op-1", transaction: append });
    await session.applyHistoryTransaction({ operationId: "op-1", transaction: append });
    assert.deepEqual(await session.getItems(), [user("q"), reply("a1"), reply("a2")]);
    await assert.rejects(
      session.applyHistoryTransaction({ operationId: "op-1", transaction: { ...append, items: [reply("other")] } }),
      UserError,
    );
    await assert.rejects(session.applyHistoryTransaction({ operationId: " ", transaction: append }), UserError);

    const replace = {
      type: "replace_suffix" as const,
      expectedSuffix: [reply("a1"), reply("a2")],
      replacement: [reply("merged")],
    };
    await session.applyHistoryTransaction({ operationId: "op-2", transaction: replace });
    await session.applyHistoryTransaction({ operationId: "op-2", transaction: replace });
    assert.deepEqual(await session.getItems(), [user("q"), reply("merged")]);
    await assert.rejects(
      session.applyHistoryTransaction({
        operationId: "op-3",
        transaction: { ...replace, expectedSuffix: [reply("not the tail")] },
      }),
      UserError,
    );
    assert.deepEqual(await session.getItems(), [user("q"), reply("merged")], "a refused transaction changes nothing");
    const atEnd = { type: "replace_suffix" as const, expectedSuffix: [], replacement: [user("next")] };
    await session.applyHistoryTransaction({ operationId: "op-4", transaction: atEnd });
    await session.applyHistoryTransaction({ operationId: "op-4", transaction: atEnd });
    assert.equal((await session.getItems()).length, 3);
  });

  test("history mutations and compaction rewrite the history atomically", async (storage) => {
    const session = new AgentstateSession({ storage, sessionId: "mut" });
    await session.addItems([user("q"), call("c1", "{}"), user("r"), call("c1", '{"dup":1}')]);
    await session.applyHistoryMutations({
      mutations: [{ type: "replace_function_call", callId: "c1", replacement: call("c1", '{"fixed":1}') as never }],
    });
    assert.deepEqual(await session.getItems(), [user("q"), call("c1", '{"fixed":1}'), user("r")]);
    const compacted = [{ type: "compaction", encrypted_content: "summary" } as unknown as AgentInputItem, user("r")];
    await session.replaceHistoryWithCompaction(compacted);
    assert.deepEqual(await session.getItems(), compacted);
  });

  test("run() twice: the second run gets the first run's history from storage", async (storage) => {
    const model = new CountingModel();
    const lookup = tool({
      name: "lookup",
      description: "Looks something up.",
      parameters: z.object({ q: z.string() }),
      execute: ({ q }) => `found ${q}`,
    });
    const agent = new Agent({ name: "helper", instructions: "Be brief.", model, tools: [lookup] });
    const first = await run(agent, "hello", { session: new AgentstateSession({ storage, sessionId: "chat" }) });
    assert.equal(first.finalOutput, "seen 1 items; last: hello");
    // A new session object over the same storage, as after a restart.
    const second = await run(agent, "look up the weather", {
      session: new AgentstateSession({ storage, sessionId: "chat" }),
    });
    assert.equal(second.finalOutput, "seen 5 items; last: look up the weather (with lookup)");
    const secondInput = model.requests[1]!.input as AgentInputItem[];
    assert.equal(secondInput.length, 3, "first run's user message and reply, then the new message");
    assert.match(textOf(secondInput[1]), /seen 1 items; last: hello/);
    const items = await new AgentstateSession({ storage, sessionId: "chat" }).getItems();
    assert.deepEqual(items.map((i) => i.type ?? "message"), [
      "message",
      "message",
      "message",
      "function_call",
      "function_call_result",
      "message",
    ]);
    assert.match(textOf(items.at(-1)), /with lookup/);
  });

  test("run() with a tripped output guardrail stores what the SDK's MemorySession stores, via a transaction", async (storage) => {
    const secret = tool({
      name: "secret",
      description: "Reveals a secret.",
      parameters: z.object({}),
      execute: () => "the password is 42",
    });
    const agentFor = () =>
      new Agent({
        name: "guarded",
        model: new SecretModel(),
        tools: [secret],
        toolUseBehavior: "stop_on_first_tool",
        outputGuardrails: [{
          name: "no-secrets",
          execute: ({ agentOutput }) =>
            Promise.resolve({ tripwireTriggered: String(agentOutput).includes("password"), outputInfo: null }),
        }],
      });
    const session = new AgentstateSession({ storage, sessionId: "guarded" });
    const reference = new MemorySession();
    await assert.rejects(run(agentFor(), "tell me", { session }), OutputGuardrailTripwireTriggered);
    await assert.rejects(run(agentFor(), "tell me", { session: reference }), OutputGuardrailTripwireTriggered);
    const items = await session.getItems();
    assert.deepEqual(items, await reference.getItems());
    assert.equal(items.length, 3);
    assert.doesNotMatch(JSON.stringify(items), /password/);
    const { runs } = await storage.getRuns("guarded");
    assert.ok(
      runs.every((r: { key: string | null }) => r.key?.includes(":blocked_append:")),
      "written by a keyed transaction",
    );
  });
}

/** Always calls the `secret` tool. */
class SecretModel implements Model {
  getResponse(): Promise<ModelResponse> {
    const output = [{ type: "function_call", callId: "c1", name: "secret", arguments: "{}", status: "completed" }];
    return Promise.resolve({ usage: new Usage(), output: output as never });
  }
  // deno-lint-ignore require-yield
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error("not used");
  }
}

for (const init of [memoryBackend(), libsqlFileBackend(), jsonBackend(), upstashBackend()]) openAiAgentsTests(init);
