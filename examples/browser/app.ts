/// <reference lib="dom" />
/**
 * A chat-like page that keeps its sessions in IndexedDB through agentstate,
 * with a scripted assistant. The browser bundle's entry: it also re-exports
 * the two storages that run in a browser, so the bundle is what a web app
 * importing them gets. Built by tests/browser_test.ts with
 * `deno bundle --platform browser --minify -o examples/browser/agentstate.js examples/browser/app.ts`.
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
}

async function select(id: string): Promise<void> {
  current = id;
  localStorage.setItem("agentstate-current", id);
  await renderList();
  await renderMessages();
}

$("new").onclick = async () => {
  const id = `chat-${Date.now().toString(36)}`;
  await storage.upsert({ sessionId: id, sessionName: `Chat ${new Date().toLocaleTimeString()}`, agentId: "scripted" });
  await select(id);
};

$("form").onsubmit = async (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>("input");
  const text = input.value.trim();
  if (!text || !current) return;
  input.value = "";
  const { runs } = await storage.getRuns(current, { order: "desc", limit: 1 });
  const turn = Math.floor((runs[0]?.seq ?? 0) / 2) + 1;
  const messages: Message[] = [{ role: "user", text }, { role: "assistant", text: reply(text, turn) }];
  await storage.appendRuns(current, messages as unknown as { [key: string]: string }[]);
  await renderList();
  await renderMessages();
};

$("rename").onclick = async () => {
  if (!current) return;
  const name = globalThis.prompt("New name", $("title").textContent ?? "") ?? "";
  if (name) await storage.renameSession(current, name);
  await renderList();
  await renderMessages();
};

$("delete").onclick = async () => {
  if (!current) return;
  await storage.deleteSession(current);
  current = null;
  localStorage.removeItem("agentstate-current");
  await renderList();
  await renderMessages();
};

current = localStorage.getItem("agentstate-current");
if (current && !(await storage.read(current))) current = null;
await renderList();
await renderMessages();
Object.assign(globalThis, { agentstateReady: true });
