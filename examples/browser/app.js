// A chat-like page that keeps its sessions in IndexedDB through agentstate.
// Built by `deno bundle --platform browser --minify examples/browser/app.js -o examples/browser/agentstate.js`.
import { IndexedDbStorage } from "../../backends/indexeddb.ts";

const storage = new IndexedDbStorage({ mode: "agent", dbName: "agentstate-chat" });
const $ = (id) => document.getElementById(id);
let current = null;

/** The assistant: a script, not a model. */
function reply(text, turn) {
  return turn === 1 ? `Hello! You said "${text}". I'll remember it.` : `Noted (${turn} messages so far): "${text}"`;
}

async function renderList() {
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

async function renderMessages() {
  const session = current ? await storage.read(current) : null;
  $("title").textContent = session ? (session.sessionName ?? session.sessionId) : "No chat selected";
  $("status").textContent = session ? `version ${session.version}` : "";
  const { runs } = current ? await storage.getRuns(current, { limit: 1000 }) : { runs: [] };
  $("messages").replaceChildren(...runs.map(({ run }) => {
    const div = document.createElement("div");
    div.className = `msg ${run.role}`;
    div.textContent = run.text;
    return div;
  }));
}

async function select(id) {
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
  const text = $("input").value.trim();
  if (!text || !current) return;
  $("input").value = "";
  const { runs } = await storage.getRuns(current, { order: "desc", limit: 1 });
  const turn = Math.floor((runs[0]?.seq ?? 0) / 2) + 1;
  await storage.appendRuns(current, [{ role: "user", text }, { role: "assistant", text: reply(text, turn) }]);
  await renderList();
  await renderMessages();
};

$("rename").onclick = async () => {
  if (!current) return;
  const name = globalThis.prompt("New name", $("title").textContent) ?? "";
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
globalThis.agentstateReady = true;
