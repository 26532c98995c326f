/**
 * A scripted agent that keeps its conversation in agentstate. Run it twice:
 * the second run shows the earlier turns and carries on where the first stopped.
 *
 *   deno task demo                       # embedded libSQL file ./.agentstate/demo.db
 *   deno task demo --url json:./.agentstate/json
 *   deno task demo --session trip --user ada --turns 2
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConflictError, openStorage } from "../mod.ts";

const USAGE = "usage: deno task demo [--url URL] [--session ID] [--user ID] [--turns N] [--history N]";

/** What the agent remembers between runs (the session's `memory`). */
interface DemoMemory {
  facts: string[];
}

/** One turn of the conversation, as stored in the run log. */
interface Turn {
  turn: number;
  user: string;
  assistant: string;
}

/** Prints `message` and the usage to stderr and exits with 2 (bad command line), without a stack trace. */
function usageError(message: string): never {
  console.error(`demo: ${message}\n${USAGE}`);
  Deno.exit(2);
}

function parseCommandLine() {
  try {
    return parseArgs({
      options: {
        url: { type: "string", default: "file:./.agentstate/demo.db" },
        session: { type: "string", default: "demo-chat" },
        user: { type: "string", default: "demo-user" },
        turns: { type: "string", default: "3" },
        history: { type: "string", default: "4" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    // node:util reports unknown flags and stray arguments as TypeErrors; say it plainly instead.
    usageError(
      error instanceof Error ? error.message.replace(/\n[^]*$/, "").replace(/\. To specify.*$/, ".") : String(error),
    );
  }
}

/** `text` as a whole number from 0 to 1000, or a usage error naming `flag`. */
function count(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 1000) {
    usageError(`--${flag} expects a whole number from 0 to 1000, got "${text}"`);
  }
  return Number(text);
}

const values = parseCommandLine();
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const turns = count("turns", values.turns);
const history = count("history", values.history);

/** The assistant: no model, just a script that remembers what it was told. It greets only in a new conversation. */
function reply(turn: number, facts: string[]): string {
  if (turn === 0) return "Hello! I'm a scripted assistant. Tell me something to remember.";
  return turn % 2 === 1
    ? `Noted. I now remember ${facts.length} thing(s).`
    : `Still here. Last thing you told me: "${facts.at(-1) ?? "nothing"}".`;
}

if (values.url.startsWith("file:./.agentstate/")) await Deno.mkdir(".agentstate", { recursive: true, mode: 0o700 });
await using storage = await openStorage<"agent", DemoMemory, never, Turn>(values.url, { mode: "agent" });

const session = await storage.read(values.session, values.user);
let facts = session?.memory?.facts ?? [];
let version = session?.version ?? 0;
const { runs: earlier } = await storage.getRuns(values.session, { userId: values.user, order: "desc", limit: history });
const turnsDone = earlier[0]?.run.turn ?? 0;
if (session) {
  console.log(`resumed session ${session.sessionId} at turn ${turnsDone} (version ${version})`);
  if (earlier.length > 0) console.log(`earlier in this conversation (last ${earlier.length} turn(s)):`);
  for (const { run } of earlier.reverse()) {
    console.log(`  #${run.turn} you: ${run.user}\n     assistant: ${run.assistant}`);
  }
} else console.log(`new session ${values.session}`);

for (let i = 0; i < turns; i++) {
  const turn = turnsDone + i;
  const said = `fact #${turn + 1} at ${new Date().toISOString()}`;
  facts = [...facts, said];
  const answer = reply(turn, facts);
  try {
    // The whole turn is one atomic write: the exchange goes to the append-only run log (costing the same at turn 1
    // and turn 10 000), keyed so a retried write is not stored twice; memory is patched; the session is created on
    // the first turn. expectedVersion: if another process wrote in between, we find out instead of overwriting it.
    ({ version } = await storage.appendRuns(values.session, [{ turn: turn + 1, user: said, assistant: answer }], {
      userId: values.user,
      keys: [`turn-${turn + 1}`],
      patch: { agentId: "scripted", sessionName: "Demo chat", memory: { facts } },
      create: true,
      expectedVersion: version,
    }));
  } catch (error) {
    if (error instanceof ConflictError) {
      console.error(`someone else updated ${values.session} (now version ${error.actual}); run again to resume`);
      Deno.exit(1);
    }
    throw error;
  }
  console.log(`  #${turn + 1} you: ${said}\n     assistant: ${answer}`);
}

const page = await storage.listSessions({ userId: values.user, sortBy: "updatedAt", limit: 5 });
console.log(`sessions of ${values.user}:`);
for (const s of page.sessions) {
  const updated = new Date(s.updatedAt).toISOString();
  console.log(`  ${s.sessionId}  facts=${s.memory?.facts.length ?? 0}  version=${s.version}  updated=${updated}`);
}
