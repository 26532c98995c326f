/**
 * A scripted agent that keeps its conversation in agentstate. Run it twice:
 * the second run resumes the session where the first stopped.
 *
 *   deno task demo                       # embedded libSQL file ./.agentstate/demo.db
 *   deno task demo --url json:./.agentstate/json
 *   deno task demo --session trip --user ada --turns 2
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConflictError, openStorage } from "../mod.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "file:./.agentstate/demo.db" },
    session: { type: "string", default: "demo-chat" },
    user: { type: "string", default: "demo-user" },
    turns: { type: "string", default: "3" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: deno task demo [--url URL] [--session ID] [--user ID] [--turns N]");
  Deno.exit(0);
}

/** The assistant: no model, just a script that remembers what it was told. */
function reply(turn: number, facts: string[]): string {
  const lines = [
    "Hello! I'm a scripted assistant. Tell me something to remember.",
    `Noted. I now remember ${facts.length} thing(s).`,
    `Still here. Last thing you told me: "${facts.at(-1) ?? "nothing"}".`,
  ];
  return lines[turn % lines.length]!;
}

if (values.url.startsWith("file:./.agentstate/")) await Deno.mkdir(".agentstate", { recursive: true, mode: 0o700 });
await using storage = await openStorage(values.url, { mode: "agent" });

let session = await storage.read(values.session, values.user);
const turnsDone = (session?.memory?.turns as number | undefined) ?? 0;
if (session) console.log(`resumed session ${session.sessionId} at turn ${turnsDone} (version ${session.version})`);
else console.log(`new session ${values.session}`);

for (let i = 0; i < Number(values.turns); i++) {
  const turn = turnsDone + i;
  const said = `fact #${turn + 1} at ${new Date().toISOString()}`;
  const facts = [...((session?.memory?.facts as string[] | undefined) ?? []), said];
  const answer = reply(turn, facts);
  try {
    // expectedVersion: if another process wrote in between, we find out instead of overwriting it.
    session = await storage.upsert(
      {
        sessionId: values.session,
        userId: values.user,
        agentId: "scripted",
        sessionName: "Demo chat",
        memory: { turns: turn + 1, facts },
      },
      { expectedVersion: session?.version ?? 0 },
    );
    // The turn itself goes to the append-only run log: writing it costs the same at turn 1 and turn 10 000.
    const { version } = await storage.appendRuns(
      values.session,
      [{ turn: turn + 1, user: said, assistant: answer }],
      { userId: values.user, expectedVersion: session.version },
    );
    session = { ...session, version };
  } catch (error) {
    if (error instanceof ConflictError) {
      console.error(`someone else updated ${values.session} (now version ${error.actual}); run again to resume`);
      Deno.exit(1);
    }
    throw error;
  }
  console.log(`  you: ${said}\n  assistant: ${answer}`);
}

const lastRuns = await storage.getRuns(values.session, { userId: values.user, order: "desc", limit: 1 });
console.log(`last turn in the run log: #${lastRuns.runs[0]?.seq ?? 0}`);
const page = await storage.listSessions({ userId: values.user, sortBy: "updatedAt", limit: 5 });
console.log(`sessions of ${values.user}:`);
for (const s of page.sessions) {
  console.log(
    `  ${s.sessionId}  turns=${s.memory?.turns ?? 0}  version=${s.version}  updated=${
      new Date(s.updatedAt).toISOString()
    }`,
  );
}
