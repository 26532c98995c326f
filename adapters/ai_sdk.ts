/**
 * Persistent chats for the AI SDK (`ai`, v5 and later) on any agentstate
 * storage: a chat is a session, its `UIMessage`s are the session's runs keyed
 * by message id, in the order storage numbered them. A turn is one atomic
 * append, so a turn costs the same at message 10 and message 10 000 and a
 * retried request stores nothing twice.
 *
 * `ai` is a peer dependency: this module imports it, the core does not.
 *
 * @example A route handler (the client sends only its last message)
 * ```ts ignore
 * import { convertToModelMessages, streamText, type UIMessage } from "ai";
 * import { AiSdkChatStore } from "@agentstate/storage/ai-sdk";
 *
 * const chats = new AiSdkChatStore({ storage });
 * const { id, message } = await request.json() as { id: string; message: UIMessage };
 * const history = await chats.loadChat(id);
 * const result = streamText({ model, messages: await convertToModelMessages([...history, message]) });
 * return result.toUIMessageStreamResponse({
 *   originalMessages: [...history, message],
 *   generateMessageId: () => crypto.randomUUID(),
 *   onEnd: (end) => chats.saveTurn(id, { ...end, newMessages: [message] }),
 * });
 * ```
 *
 * @module
 */
import { type UIMessage, validateUIMessages } from "ai";
import { ValidationError } from "../session/errors.ts";
import { toJsonValue } from "../session/to_json.ts";
import type { JsonObject } from "../session/types.ts";
import { readLast, readLog, type RunLogStorage } from "./_log.ts";

/** What {@linkcode AiSdkChatStore} keeps in a chat session's `sessionData` (it owns that field). */
export interface ChatState {
  /** The id of the stream being generated for this chat, for resumable streams; `null` when none. */
  activeStreamId: string | null;
}

/** A chat as {@linkcode AiSdkChatStore.getChat} returns it. */
export interface ChatInfo extends ChatState {
  /** The chat's id (its session id). */
  chatId: string;
  /** Its owner, or `null`. */
  userId: string | null;
  /** Its title (the session's name), or `null`. */
  title: string | null;
  /** Epoch milliseconds of its creation. */
  createdAt: number;
  /** Epoch milliseconds of its last write. */
  updatedAt: number;
}

/** Fields of the chat session a turn may set along with its messages. */
export interface ChatPatch {
  /** The chat's title. */
  sessionName?: string | null;
  /** Free-form memory. */
  memory?: JsonObject | null;
  /** Anything else to keep with the chat. */
  extraData?: JsonObject | null;
}

/** Options of {@linkcode AiSdkChatStore.loadChat} validation: `validateUIMessages`' options but `messages`. */
export type ValidateOptions<M extends UIMessage> = Omit<Parameters<typeof validateUIMessages<M>>[0], "messages">;

/** Options of {@linkcode AiSdkChatStore}. */
export interface AiSdkChatStoreOptions<M extends UIMessage> {
  /** Where chats live: any storage of this package, in any mode. */
  storage: RunLogStorage;
  /** When given, {@linkcode AiSdkChatStore.loadChat} passes the messages through `validateUIMessages` with these schemas. */
  validate?: ValidateOptions<M>;
}

/** What {@linkcode AiSdkChatStore.saveTurn} stores: the fields of the AI SDK's `onEnd` event plus the client's new messages. */
export interface ChatTurn<M extends UIMessage> {
  /** Messages the client sent that are not stored yet (usually its last message; already stored ones are skipped). */
  newMessages?: M[];
  /** The response message (`onEnd`'s `responseMessage`). */
  responseMessage: M;
  /** `true` when the response extends the last message instead of starting a new one (`onEnd`'s `isContinuation`). */
  isContinuation?: boolean;
}

/** Who may touch a chat. */
export interface ChatUserOption {
  /** When given, only a chat of exactly this user is read or written (and a new chat belongs to them). */
  userId?: string;
}

/**
 * AI SDK chats over a `SessionStorage`. Every method is one or two storage
 * calls; the storage does the ordering, idempotence and ownership checks.
 */
export class AiSdkChatStore<M extends UIMessage = UIMessage> {
  readonly #storage: RunLogStorage;
  readonly #validate: ValidateOptions<M> | undefined;

  /** A store over `options.storage`. */
  constructor(options: AiSdkChatStoreOptions<M>) {
    this.#storage = options.storage;
    this.#validate = options.validate;
  }

  /** Creates an empty chat owned by `userId` (a random id unless `chatId` is given) and returns its id; `ConflictError` when it exists. */
  async createChat(options: ChatUserOption & { chatId?: string; title?: string } = {}): Promise<string> {
    const chatId = options.chatId ?? crypto.randomUUID();
    const state: ChatState = { activeStreamId: null };
    await this.#storage.upsert(
      { sessionId: chatId, userId: options.userId ?? null, sessionName: options.title ?? null, sessionData: state },
      { expectedVersion: 0 },
    );
    return chatId;
  }

  /** The chat's title, owner, times and active stream, or `null` when it is absent (or another user's). */
  async getChat(chatId: string, options: ChatUserOption = {}): Promise<ChatInfo | null> {
    const session = await this.#storage.read(chatId, options.userId);
    if (session === null) return null;
    const state = session.sessionData as Partial<ChatState> | null;
    return {
      chatId,
      userId: session.userId,
      title: session.sessionName,
      activeStreamId: state?.activeStreamId ?? null,
      createdAt: session.createdAt,
      updatedAt: session.updatedAt,
    };
  }

  /**
   * The chat's messages in order (all, or the `last` N), read a page at a
   * time; `[]` when the chat is absent. Validated with `validateUIMessages`
   * when the store was given `validate`.
   */
  async loadChat(chatId: string, options: ChatUserOption & { last?: number } = {}): Promise<M[]> {
    const runs = options.last === undefined
      ? await readLog(this.#storage, chatId, options.userId)
      : await readLast(this.#storage, chatId, options.last, options.userId);
    const messages = runs.map((r) => r.run as unknown as M);
    if (this.#validate === undefined || messages.length === 0) return messages;
    return await validateUIMessages<M>({ ...this.#validate, messages });
  }

  /**
   * Stores a finished turn. A new response is one atomic append of the new
   * messages and the response, keyed by message id, that also creates the
   * chat when missing (owned by `userId`), clears the active stream and
   * applies `patch`: a retry with the same messages writes nothing, and a
   * message id reused for other content is a `RunConflictError`. A
   * continuation replaces the stored message with the response's id (or
   * appends it when it is not stored), then clears the active stream.
   */
  async saveTurn(
    chatId: string,
    turn: ChatTurn<M>,
    options: ChatUserOption & { patch?: ChatPatch } = {},
  ): Promise<void> {
    const { responseMessage, isContinuation = false } = turn;
    const added = (turn.newMessages ?? []).filter((m) => !isContinuation || m.id !== responseMessage.id);
    const state: ChatState = { activeStreamId: null };
    const fields = { ...options.patch, sessionData: state };
    const user = { userId: options.userId };
    if (isContinuation && await this.#storage.getRun(chatId, checkId(responseMessage), user) !== null) {
      if (added.length > 0) await this.#append(chatId, added, options.userId, undefined);
      await this.#storage.putRun(chatId, { key: responseMessage.id }, asRun(responseMessage), user);
      await this.#storage.patch(chatId, fields, user);
      return;
    }
    await this.#append(chatId, [...added, responseMessage], options.userId, fields);
  }

  /** Removes every message after `messageId` (a regenerate keeps the user message and drops the answers after it). */
  async truncateAfter(chatId: string, messageId: string, options: ChatUserOption = {}): Promise<void> {
    await this.#storage.truncateRuns(chatId, { key: messageId }, { userId: options.userId });
  }

  /**
   * Marks a turn as started, for resumable streams: one write that appends
   * `newMessages` (keyed, skipped when already stored; the chat is created
   * when missing) and records `activeStreamId`, so a reload during the
   * stream shows the user's message and finds the stream to resume. Without
   * new messages it only records the stream (the chat must exist).
   * {@linkcode saveTurn} clears the stream id when the turn ends.
   */
  async startTurn(
    chatId: string,
    turn: { newMessages?: M[]; activeStreamId: string },
    options: ChatUserOption = {},
  ): Promise<void> {
    const state: ChatState = { activeStreamId: turn.activeStreamId };
    const messages = turn.newMessages ?? [];
    if (messages.length > 0) await this.#append(chatId, messages, options.userId, { sessionData: state });
    else await this.#storage.patch(chatId, { sessionData: state }, { userId: options.userId });
  }

  /** Deletes the chat and its messages; `true` when it existed. */
  async deleteChat(chatId: string, options: ChatUserOption = {}): Promise<boolean> {
    return await this.#storage.deleteSession(chatId, { userId: options.userId });
  }

  async #append(chatId: string, messages: M[], userId: string | undefined, patch: object | undefined): Promise<void> {
    const keys = messages.map(checkId);
    const append = patch === undefined ? { userId, keys, create: true } : { userId, keys, create: true, patch };
    await this.#storage.appendRuns(chatId, messages.map(asRun), append);
  }
}

/** A message's id, which keys its run: refused, naming the message, when empty (pass `generateMessageId`). */
function checkId(message: UIMessage, index = 0): string {
  if (typeof message.id === "string" && message.id.length > 0) return message.id;
  throw new ValidationError([{
    path: ["messages", index, "id"],
    message: "a stored message needs an id: pass `generateMessageId` to `toUIMessageStreamResponse`",
  }]);
}

/** The message as the plain JSON object stored (fields holding `undefined` dropped). */
function asRun(message: UIMessage): JsonObject {
  return toJsonValue(message) as JsonObject;
}
