/**
 * The AI SDK chat store and the example route handler, driven by the real
 * `ai` package offline: `streamText` over the SDK's own `MockLanguageModelV4`,
 * `toUIMessageStreamResponse` with `onEnd`, and its `DefaultChatTransport`
 * as the client over real HTTP on 127.0.0.1. {@linkcode aiSdkTests} takes a
 * storage initializer, so the same cases run on every backend.
 */
import assert from "node:assert/strict";
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai";
import { z } from "zod";
import { AiSdkChatStore } from "../adapters/ai_sdk.ts";
import { chatHandler, echoModel } from "../examples/ai_sdk_chat.ts";
import { RunConflictError, UserMismatchError, ValidationError } from "../session/errors.ts";
import type { AnyStorage, StoreTestInitializer } from "./conformance/mod.ts";
import { jsonBackend, libsqlFileBackend, memoryBackend, upstashBackend } from "./support/backends.ts";

const user = (id: string, text: string): UIMessage => ({ id, role: "user", parts: [{ type: "text", text }] });
const assistant = (id: string, text: string): UIMessage => ({ id, role: "assistant", parts: [{ type: "text", text }] });
const texts = (m: UIMessage | undefined) => m?.parts.flatMap((p) => p.type === "text" ? [p.text] : []).join("|");

/** Runs `fn` with a fresh storage of `init`, then disposes of it and undoes `init`'s setup. */
async function withStorage(init: StoreTestInitializer, fn: (storage: AnyStorage) => Promise<void>): Promise<void> {
  await init.setup?.();
  const storage = await init.create({ mode: "agent" }, "ai-sdk");
  try {
    await fn(storage);
  } finally {
    await (init.destroy ? init.destroy(storage) : storage.close());
    await init.teardown?.();
  }
}

/** Serves the example's handler over `storage` on a free port of 127.0.0.1. */
async function withServer(
  storage: AnyStorage,
  delayMs: number,
  fn: (api: string, chats: AiSdkChatStore, model: ReturnType<typeof echoModel>) => Promise<void>,
  chats = new AiSdkChatStore({ storage }),
): Promise<void> {
  const model = echoModel(delayMs);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, chatHandler(chats, model));
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/api/chat`, chats, model);
  } finally {
    await server.shutdown();
  }
}

/** The AI SDK's client transport, sending only the last message as the example expects. */
function transport(api: string): DefaultChatTransport<UIMessage> {
  return new DefaultChatTransport<UIMessage>({
    api,
    prepareSendMessagesRequest: ({ id, messages, trigger, messageId }) => ({
      body: { id, message: messages.at(-1), trigger, messageId },
    }),
  });
}

/** Sends like `Chat.sendMessage`/`regenerate` and returns the response message the client assembles. */
async function send(
  api: string,
  chatId: string,
  messages: UIMessage[],
  trigger: "submit-message" | "regenerate-message" = "submit-message",
): Promise<UIMessage> {
  const stream = await transport(api).sendMessages({
    chatId,
    messages,
    trigger,
    messageId: undefined,
    abortSignal: undefined,
  });
  const last = messages.at(-1);
  return await lastMessage(stream, last?.role === "assistant" ? last : undefined);
}

async function lastMessage(stream: ReadableStream<UIMessageChunk>, message?: UIMessage): Promise<UIMessage> {
  let last: UIMessage | undefined;
  for await (const m of readUIMessageStream({ stream, message: message && structuredClone(message) })) last = m;
  assert.ok(last, "the stream carried no message");
  return last;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** Registers the AI SDK cases on the backend `init` makes. */
export function aiSdkTests(init: StoreTestInitializer): void {
  const test = (name: string, fn: (storage: AnyStorage) => Promise<void>) =>
    Deno.test(`ai-sdk on ${init.name}: ${name}`, () => withStorage(init, fn));

  test("a turn is one write, a retry writes nothing, a reused id with other content is refused", async (storage) => {
    const chats = new AiSdkChatStore({ storage });
    const chatId = await chats.createChat({ userId: "ada", title: "Greeting" });
    assert.equal((await storage.read(chatId))?.version, 1);
    const turn = { newMessages: [user("u1", "hi")], responseMessage: assistant("a1", "hello") };
    await chats.saveTurn(chatId, turn, { userId: "ada", patch: { extraData: { model: "echo" } } });
    const stored = await storage.read(chatId);
    assert.equal(stored?.version, 2, "messages, stream id and patch land in one write");
    assert.deepEqual(stored?.extraData, { model: "echo" });
    await chats.saveTurn(chatId, turn, { userId: "ada" });
    assert.equal((await storage.read(chatId))?.version, 2, "a replayed turn writes nothing");
    await assert.rejects(
      chats.saveTurn(chatId, { responseMessage: assistant("a1", "other") }, { userId: "ada" }),
      RunConflictError,
    );
    assert.deepEqual(await chats.loadChat(chatId, { userId: "ada" }), [user("u1", "hi"), assistant("a1", "hello")]);
    assert.deepEqual(await chats.getChat(chatId, { userId: "ada" }), {
      chatId,
      userId: "ada",
      title: "Greeting",
      activeStreamId: null,
      createdAt: stored!.createdAt,
      updatedAt: stored!.updatedAt,
    });
  });

  test("ownership, creation on first save, ids required, undefined fields dropped", async (storage) => {
    const chats = new AiSdkChatStore({ storage });
    await chats.saveTurn("c", { newMessages: [user("u1", "hi")], responseMessage: assistant("a1", "yo") }, {
      userId: "ada",
    });
    assert.equal((await chats.getChat("c"))?.userId, "ada", "saveTurn created the chat for its user");
    assert.equal(await chats.getChat("c", { userId: "bob" }), null);
    assert.deepEqual(await chats.loadChat("c", { userId: "bob" }), []);
    await assert.rejects(
      chats.saveTurn("c", { responseMessage: assistant("a2", "x") }, { userId: "bob" }),
      UserMismatchError,
    );
    await assert.rejects(chats.saveTurn("c", { responseMessage: assistant("", "x") }), ValidationError);
    const withUndefined: UIMessage = { id: "a3", role: "assistant", metadata: undefined, parts: [] };
    await chats.saveTurn("c", { responseMessage: withUndefined }, { userId: "ada" });
    assert.deepEqual((await chats.loadChat("c")).at(-1), { id: "a3", role: "assistant", parts: [] });
    assert.equal(await chats.deleteChat("c", { userId: "ada" }), true);
    assert.deepEqual(await chats.loadChat("c"), []);
  });

  test("loads long chats page by page in order, and the last N", async (storage) => {
    const chats = new AiSdkChatStore({ storage });
    const chatId = await chats.createChat();
    const all: UIMessage[] = [];
    for (let t = 0; t < 3; t++) {
      const newMessages = Array.from({ length: 500 }, (_, i) => user(`u${t}-${i}`, `m${t}-${i}`));
      const responseMessage = assistant(`a${t}`, `answer ${t}`);
      await chats.saveTurn(chatId, { newMessages, responseMessage });
      all.push(...newMessages, responseMessage);
    }
    assert.deepEqual((await chats.loadChat(chatId)).map((m) => m.id), all.map((m) => m.id));
    assert.deepEqual(
      (await chats.loadChat(chatId, { last: 1100 })).map((m) => m.id),
      all.slice(-1100).map((m) => m.id),
    );
    assert.deepEqual((await chats.loadChat(chatId, { last: 2 })).map((m) => m.id), ["u2-499", "a2"]);
  });

  test("regenerate truncates after the message, a continuation replaces the message in place", async (storage) => {
    const chats = new AiSdkChatStore({ storage });
    const chatId = await chats.createChat();
    await chats.saveTurn(chatId, { newMessages: [user("u1", "hi")], responseMessage: assistant("a1", "one") });
    await chats.saveTurn(chatId, { newMessages: [user("u2", "again")], responseMessage: assistant("a2", "two") });
    await chats.truncateAfter(chatId, "u2");
    await chats.saveTurn(chatId, { newMessages: [user("u2", "again")], responseMessage: assistant("a3", "three") });
    assert.deepEqual((await chats.loadChat(chatId)).map((m) => m.id), ["u1", "a1", "u2", "a3"]);
    assert.equal(await storage.getRun(chatId, "a2"), null);
    const continued: UIMessage = {
      id: "a3",
      role: "assistant",
      parts: [...assistant("", "three").parts, { type: "text", text: "more" }],
    };
    await chats.startTurn(chatId, { activeStreamId: "s1" });
    assert.equal((await chats.getChat(chatId))?.activeStreamId, "s1");
    await chats.saveTurn(chatId, {
      newMessages: [assistant("a3", "three")],
      responseMessage: continued,
      isContinuation: true,
    });
    const loaded = await chats.loadChat(chatId);
    assert.deepEqual(loaded.map((m) => m.id), ["u1", "a1", "u2", "a3"]);
    assert.equal(texts(loaded.at(-1)), "three|more");
    assert.equal((await storage.getRun(chatId, "a3"))?.seq, 4, "replaced in place");
    assert.equal((await chats.getChat(chatId))?.activeStreamId, null, "the end of the turn clears the stream");
  });

  test("validateUIMessages on load refuses a stored message its schemas reject", async (storage) => {
    const strict = new AiSdkChatStore({ storage, validate: { metadataSchema: z.object({ n: z.number() }) } });
    await strict.saveTurn("v", { responseMessage: { ...assistant("a1", "x"), metadata: { n: 1 } } });
    assert.equal((await strict.loadChat("v")).length, 1);
    await strict.saveTurn("v", { responseMessage: { ...assistant("a2", "x"), metadata: { n: "one" } } });
    await assert.rejects(strict.loadChat("v"), /n/);
  });

  test("over HTTP: two turns, reload, regenerate, continuation", async (storage) => {
    await withServer(storage, 0, async (api, chats, model) => {
      const messages: UIMessage[] = [user("u1", "hello")];
      messages.push(await send(api, "chat-1", messages));
      assert.equal(texts(messages[1]), "You said: hello");
      messages.push(user("u2", "and again"));
      messages.push(await send(api, "chat-1", messages));
      assert.equal(model.doStreamCalls[1]?.prompt.filter((m) => m.role !== "system").length, 3, "history from storage");
      const reloaded = await (await fetch(`${api}/chat-1`)).json() as UIMessage[];
      assert.deepEqual(reloaded.map((m) => [m.id, texts(m)]), messages.map((m) => [m.id, texts(m)]));

      const kept = messages.slice(0, 3);
      const regenerated = await send(api, "chat-1", kept, "regenerate-message");
      assert.notEqual(regenerated.id, messages[3]!.id);
      assert.deepEqual((await chats.loadChat("chat-1")).map((m) => m.id), [...kept.map((m) => m.id), regenerated.id]);

      const continued = await send(api, "chat-1", [...kept, regenerated]);
      assert.equal(continued.id, regenerated.id, "the response continues the last message");
      const stored = await chats.loadChat("chat-1");
      assert.equal(stored.length, 4);
      assert.equal(texts(stored[3]), "You said: and again|You said: and again");
    });
  });

  test("over HTTP: a client that disconnects still gets its turn stored, and a reconnect resumes", async (storage) => {
    await withServer(storage, 5, async (api, chats) => {
      const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
      const abort = new AbortController();
      const response = await fetch(api, {
        method: "POST",
        body: JSON.stringify({ id: "chat-2", message: user("u1", words), trigger: "submit-message" }),
        signal: abort.signal,
      });
      const reader = response.body!.getReader();
      await reader.read();
      await until("the stream is active", async () => (await chats.getChat("chat-2"))?.activeStreamId != null);
      const resumed = await transport(api).reconnectToStream({ chatId: "chat-2" });
      abort.abort();
      await reader.cancel().catch(() => {});
      assert.ok(resumed, "the active stream is found");
      assert.equal(texts(await lastMessage(resumed)), `You said: ${words}`);
      await until("the turn is stored", async () => (await chats.getChat("chat-2"))?.activeStreamId === null);
      const stored = await chats.loadChat("chat-2");
      assert.deepEqual(stored.map((m) => m.role), ["user", "assistant"]);
      assert.equal(texts(stored[1]), `You said: ${words}`);
      assert.equal(await transport(api).reconnectToStream({ chatId: "chat-2" }), null, "nothing to resume after");
    });
  });

  test("over HTTP: a turn whose chat got another turn's answer meanwhile appends its own answer", async (storage) => {
    // Turn A stores its message, then waits (before reading the history) until turn B has ended: the history then
    // ends with B's answer, which A must not take for the message it continues.
    let releaseA!: () => void;
    const held = new Promise<void>((resolve) => releaseA = resolve);
    const chats = new class extends AiSdkChatStore {
      override async loadChat(chatId: string, options?: { last?: number }) {
        if (chatId === "chat-4" && (await this.getRuns(chatId)).at(-1)?.id === "ua") await held;
        return await super.loadChat(chatId, options);
      }
      getRuns = async (chatId: string) => (await storage.getRuns(chatId)).runs.map((r) => r.run as { id: string });
    }({ storage });
    await withServer(storage, 0, async (api) => {
      const first = send(api, "chat-4", [user("ua", "from a")]);
      await until("A's message is stored", async () => (await storage.getRuns("chat-4")).runs.length === 1);
      const b = await send(api, "chat-4", [user("ub", "from b")]);
      releaseA();
      const a = await first;
      assert.notEqual(a.id, b.id, "A's answer is its own message");
      assert.equal(texts(a), "You said: from a");
      const stored = (await storage.getRuns("chat-4")).runs.map((r) => (r.run as { id: string }).id);
      assert.deepEqual(stored, ["ua", "ub", b.id, a.id]);
    }, chats);
  });

  test("over HTTP: two concurrent turns on one chat lose nothing", async (storage) => {
    await withServer(storage, 1, async (api, chats) => {
      const [a, b] = await Promise.all([
        send(api, "chat-3", [user("ua", "from a")]),
        send(api, "chat-3", [user("ub", "from b")]),
      ]);
      const runs = (await storage.getRuns("chat-3")).runs;
      assert.deepEqual(runs.map((r: { seq: number }) => r.seq), [1, 2, 3, 4]);
      const ids = (await chats.loadChat("chat-3")).map((m) => m.id);
      assert.deepEqual([...ids].sort(), ["ua", "ub", a.id, b.id].sort());
      assert.ok(ids.indexOf("ua") < ids.indexOf(a.id) && ids.indexOf("ub") < ids.indexOf(b.id));
    });
  });
}

for (const init of [memoryBackend(), libsqlFileBackend(), jsonBackend(), upstashBackend()]) aiSdkTests(init);

Deno.test("examples/ai_sdk_chat.ts runs as a server and keeps the chat", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("../deno.dev.json", import.meta.url).pathname,
      new URL("../examples/ai_sdk_chat.ts", import.meta.url).pathname,
    ],
    env: { PORT: "0", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).values();
    let port = 0;
    for await (const chunk of lines) {
      const found = chunk.match(/Listening on http:\/\/[^:]+:(\d+)/);
      if (found) {
        port = Number(found[1]);
        break;
      }
    }
    assert.ok(port > 0, "the server printed its port");
    const api = `http://127.0.0.1:${port}/api/chat`;
    const answer = await send(api, "c", [user("u1", "over a process")]);
    assert.equal(texts(answer), "You said: over a process");
    const stored = await (await fetch(`${api}/c`)).json() as UIMessage[];
    assert.deepEqual(stored.map((m) => m.id), ["u1", answer.id]);
  } finally {
    child.kill();
    await child.status;
    await child.stdout.cancel();
  }
});
