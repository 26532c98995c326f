/**
 * An AI SDK chat endpoint that keeps every chat in agentstate: the client
 * sends only its last message, the server loads the rest, streams the answer
 * with `streamText`, and stores the turn when the stream ends, also when the
 * client went away. A client that reconnects (`GET /api/chat/:id/stream`,
 * what the AI SDK's `DefaultChatTransport` calls to resume) gets the answer
 * being generated, replayed from its start.
 *
 *   deno run -A examples/ai_sdk_chat.ts   # port from PORT, default 8000; an offline echo model
 *
 *   POST /api/chat {"id", "message", "trigger", "messageId"}  → UI message stream (SSE)
 *   GET  /api/chat/:id                                       → the chat's UIMessage[]
 *   GET  /api/chat/:id/stream                                → the active stream, or 204
 *
 * On the client: `new DefaultChatTransport({ api: "/api/chat", prepareSendMessagesRequest:
 * ({ id, messages, trigger, messageId }) => ({ body: { id, message: messages.at(-1), trigger, messageId } }) })`.
 *
 * @module
 */
import { convertToModelMessages, type LanguageModel, simulateReadableStream, streamText, type UIMessage } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { AiSdkChatStore } from "../adapters/ai_sdk.ts";
import { MemoryStorage } from "../backends/memory.ts";

/** What the client posts: its last message only. */
interface ChatRequest {
  id: string;
  message: UIMessage;
  trigger?: "submit-message" | "regenerate-message";
}

/** Streams being generated, kept in this process so a client that reconnects can read them from the start. */
export class ActiveStreams {
  readonly #streams = new Map<string, { chunks: string[]; done: boolean; waiters: (() => void)[] }>();

  /** Reads `stream` to its end, whoever listens, keeping its chunks until it ends. */
  start(streamId: string, stream: ReadableStream<string>): void {
    const entry = { chunks: [] as string[], done: false, waiters: [] as (() => void)[] };
    this.#streams.set(streamId, entry);
    const wake = () => entry.waiters.splice(0).forEach((w) => w());
    (async () => {
      try {
        for await (const chunk of stream) {
          entry.chunks.push(chunk);
          wake();
        }
      } finally {
        entry.done = true;
        this.#streams.delete(streamId);
        wake();
      }
    })();
  }

  /** The stream from its first chunk, following it live; `null` when it is unknown or over. */
  resume(streamId: string): ReadableStream<string> | null {
    const entry = this.#streams.get(streamId);
    if (!entry) return null;
    let next = 0;
    return new ReadableStream<string>({
      async pull(controller) {
        while (next === entry.chunks.length && !entry.done) await new Promise<void>((r) => entry.waiters.push(r));
        if (next < entry.chunks.length) controller.enqueue(entry.chunks[next++]!);
        else controller.close();
      },
    });
  }
}

/** The request handler: chats in `chats`, answers from `model`. */
export function chatHandler(chats: AiSdkChatStore, model: LanguageModel): (request: Request) => Promise<Response> {
  const streams = new ActiveStreams();
  return async (request) => {
    const url = new URL(request.url);
    const path = url.pathname.match(/^\/api\/chat(?:\/([^/]+)(\/stream)?)?$/);
    if (!path) return new Response("not found", { status: 404 });
    const [, chatId, stream] = path;
    if (request.method === "GET" && chatId && stream) {
      const activeStreamId = (await chats.getChat(decodeURIComponent(chatId)))?.activeStreamId;
      const resumed = activeStreamId ? streams.resume(activeStreamId) : null;
      if (!resumed) return new Response(null, { status: 204 });
      return new Response(resumed.pipeThrough(new TextEncoderStream()), {
        headers: { "content-type": "text/event-stream", "x-vercel-ai-ui-message-stream": "v1" },
      });
    }
    if (request.method === "GET" && chatId) return Response.json(await chats.loadChat(decodeURIComponent(chatId)));
    if (request.method !== "POST" || chatId) return new Response("method not allowed", { status: 405 });

    const { id, message, trigger } = await request.json() as ChatRequest;
    // A regenerate resends the user's message: drop the answers after it. A user's message is new; an assistant
    // message sent back (with tool outputs added on the client) is continued and replaced when the turn ends.
    if (trigger === "regenerate-message") await chats.truncateAfter(id, message.id);
    const newMessages = trigger !== "regenerate-message" && message.role === "user" ? [message] : [];
    const streamId = crypto.randomUUID();
    await chats.startTurn(id, { newMessages, activeStreamId: streamId });
    // The history as of this request's message. Another turn on the chat may have ended meanwhile: were its answer
    // last, the SDK would take this turn for a continuation of it and replace it.
    const stored = await chats.loadChat(id);
    const at = stored.findIndex((m) => m.id === message.id);
    const messages = at === -1 ? [...stored, message] : [...stored.slice(0, at), message];

    const result = streamText({ model, messages: await convertToModelMessages(messages) });
    return result.toUIMessageStreamResponse({
      originalMessages: messages,
      generateMessageId: () => crypto.randomUUID(),
      onEnd: ({ responseMessage, isContinuation }) => chats.saveTurn(id, { responseMessage, isContinuation }),
      // A copy of the stream read to its end whatever the client does: the turn is stored even when the client
      // disconnects, and a reconnecting client can replay it.
      consumeSseStream: ({ stream }) => streams.start(streamId, stream),
    });
  };
}

/** An offline model that answers "You said: <the last user text>" in a few chunks. */
export function echoModel(chunkDelayInMs = 0): MockLanguageModelV4 {
  return new MockLanguageModelV4({
    doStream: ({ prompt }) => {
      const last = prompt.findLast((m) => m.role === "user");
      const text = last?.role === "user" ? last.content.map((p) => p.type === "text" ? p.text : "").join("") : "";
      const words = `You said: ${text}`.split(/(?= )/);
      const usage = {
        inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
        outputTokens: { total: words.length, text: words.length, reasoning: 0 },
      };
      return Promise.resolve({
        stream: simulateReadableStream({
          chunkDelayInMs,
          chunks: [
            { type: "text-start" as const, id: "t" },
            ...words.map((delta) => ({ type: "text-delta" as const, id: "t", delta })),
            { type: "text-end" as const, id: "t" },
            { type: "finish" as const, finishReason: { unified: "stop" as const, raw: "stop" }, usage },
          ],
        }),
      });
    },
  });
}

if (import.meta.main) {
  // Any storage of this package works here (LibsqlStorage, UpstashRedisStorage, …); swap the echo model for a
  // provider's, e.g. `openai("gpt-4.1")` from `@ai-sdk/openai`.
  const chats = new AiSdkChatStore({ storage: new MemoryStorage() });
  const delay = Number(Deno.env.get("ECHO_DELAY_MS") ?? 0);
  const server = Deno.serve({ port: Number(Deno.env.get("PORT") ?? 8000) }, chatHandler(chats, echoModel(delay)));
  await server.finished;
}
