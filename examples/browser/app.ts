/// <reference lib="dom" />
/**
 * A chat-like page that keeps its sessions in IndexedDB through agentstate,
 * with a scripted assistant. The browser bundle's entry: it also re-exports
 * the two storages that run in a browser, so the bundle is what a web app
 * importing them gets. Build and serve it with `deno task browser` (see
 * README.md here); tests/browser_test.ts drives it in Chromium.
 *
 * Other tabs of the same page learn of every change through a
 * `BroadcastChannel` and redraw.
 *
 * @module
 */
import { IndexedDbStorage } from "../../backends/indexeddb.ts";

export { IndexedDbStorage } from "../../backends/indexeddb.ts";
export { MemoryStorage } from "../../backends/memory.ts";

/** One message of the chat, as stored in the session's run log. */
interface Message {
  role: "user" | "assistant";
  text: string;
}

const storage = new IndexedDbStorage({ mode: "agent", dbName: "agentstate-chat" });
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
let current: string | null = null;
/** Tells the other tabs that a chat changed; they redraw. */
const channel = new BroadcastChannel("agentstate-chat");

/** The assistant: a script, not a model. */
function reply(text: string, turn: number): string {
  return turn === 1 ? `Hello! You said "${text}". I'll remember it.` : `Noted (${turn} messages so far): "${text}"`;
}

async function renderList(): Promise<void> {
  const { sessions } = await storage.listSessions({ sortBy: "updatedAt", limit: 50 });
  $("sessions").replaceChildren(...sessions.map((s) => {
    const li = document.createElement("li");
    li.dataset.id = s.sessionId;
    li.textContent = s.sessionName ?? s.sessionId;
    if (s.sessionId === current) li.className = "active";
    li.onclick = () => select(s.sessionId);
    return li;
  }));
}

async function renderMessages(): Promise<void> {
  const session = current ? await storage.read(current) : null;
  for (const id of ["rename", "delete"]) $<HTMLButtonElement>(id).disabled = session === null;
  $("title").textContent = session ? (session.sessionName ?? session.sessionId) : "No chat selected";
  $("status").textContent = session ? `version ${session.version}, saved in IndexedDB` : "";
  const { runs } = current ? await storage.getRuns(current, { limit: 1000 }) : { runs: [] };
  $("messages").replaceChildren(...runs.map(({ run }) => {
    const message = run as unknown as Message;
    const div = document.createElement("div");
    div.className = `msg ${message.role}`;
    div.textContent = message.text;
    return div;
  }));
  $("messages").scrollTop = $("messages").scrollHeight;
}

/** Redraws this tab and tells the others. */
async function changed(): Promise<void> {
  channel.postMessage("changed");
  await renderList();
  await renderMessages();
}

async function select(id: string): Promise<void> {
  current = id;
  localStorage.setItem("agentstate-current", id);
  await renderList();
  await renderMessages();
}

async function newChat(): Promise<string> {
  const id = `chat-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  await storage.upsert({ sessionId: id, sessionName: `Chat ${new Date().toLocaleTimeString()}`, agentId: "scripted" });
  channel.postMessage("changed");
  await select(id);
  return id;
}

$("new").onclick = newChat;

$("form").onsubmit = async (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>("input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const id = current ?? await newChat(); // sending with no chat open starts one
  const { runs } = await storage.getRuns(id, { order: "desc", limit: 1 });
  const turn = Math.floor((runs[0]?.seq ?? 0) / 2) + 1;
  const messages: Message[] = [{ role: "user", text }, { role: "assistant", text: reply(text, turn) }];
  await storage.appendRuns(id, messages as unknown as { [key: string]: string }[]);
  await changed();
};

$("rename").onclick = async () => {
  if (!current) return;
  const name = globalThis.prompt("New name", $("title").textContent ?? "") ?? "";
  if (name) await storage.renameSession(current, name);
  await changed();
};

$("delete").onclick = async () => {
  if (!current) return;
  await storage.deleteSession(current);
  current = null;
  localStorage.removeItem("agentstate-current");
  await changed();
};

// The newest message stays in view when the window (a phone turned, say) changes size.
new ResizeObserver(() => $("messages").scrollTop = $("messages").scrollHeight).observe($("messages"));

channel.onmessage = async () => {
  if (current && !(await storage.read(current))) current = null; // deleted in another tab
  await renderList();
  await renderMessages();
};

current = localStorage.getItem("agentstate-current");
if (current && !(await storage.read(current))) current = null;
await renderList();
await renderMessages();
Object.assign(globalThis, { agentstateReady: true });
