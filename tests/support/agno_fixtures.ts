/**
 * Fixtures in Python agno v1's storage layouts, built from agno's documented
 * schema: SqliteStorage tables (snake_case columns, JSON as text, epoch
 * seconds, `updated_at` possibly NULL) and JsonStorage files.
 */
import { createClient } from "@libsql/client";

/** agno v1 agent rows: the second has a NULL `updated_at`, runs in memory, and an extra column. */
export const AGNO_AGENT_ROWS = [
  {
    session_id: "agno-1",
    user_id: "ada",
    agent_id: "research-agent",
    team_session_id: null,
    memory: JSON.stringify({
      runs: [{ input: "hi", content: "hello" }, { input: "more", content: "sure" }],
      summary: null,
    }),
    agent_data: JSON.stringify({ name: "Researcher", model: { provider: "OpenAI" } }),
    session_data: JSON.stringify({ session_name: "Research chat", session_state: { step: 2 } }),
    extra_data: null,
    created_at: 1_700_000_000,
    updated_at: 1_700_000_500,
    legacy_flag: "yes",
  },
  {
    session_id: "agno-2",
    user_id: null,
    agent_id: "research-agent",
    team_session_id: "team-9",
    memory: JSON.stringify({ chats: [] }),
    agent_data: "not json at all",
    session_data: null,
    extra_data: JSON.stringify({ source: "import" }),
    created_at: 1_700_000_100,
    updated_at: null,
    legacy_flag: null,
  },
];

/** Writes an agno v1 SqliteStorage database (agent mode) at `path`. */
export async function writeAgnoSqlite(path: string): Promise<void> {
  const client = createClient({ url: `file:${path}` });
  try {
    await client.execute(
      `CREATE TABLE agent_sessions (session_id TEXT PRIMARY KEY, user_id TEXT, memory JSON, agent_id TEXT,
       agent_data JSON, session_data JSON, extra_data JSON, created_at INTEGER, updated_at INTEGER,
       team_session_id TEXT, legacy_flag TEXT)`,
    );
    for (const row of AGNO_AGENT_ROWS) {
      const columns = Object.keys(row);
      await client.execute({
        sql: `INSERT INTO agent_sessions (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
        args: Object.values(row),
      });
    }
  } finally {
    client.close();
  }
}

/** Writes an agno v1 JsonStorage directory (one `<session_id>.json` per session) at `dir`. */
export async function writeAgnoJsonDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const row of AGNO_AGENT_ROWS) {
    const { legacy_flag: _, ...session } = row;
    const parsed = Object.fromEntries(
      Object.entries(session).map(([k, v]) => {
        if (typeof v !== "string" || !["memory", "agent_data", "session_data", "extra_data"].includes(k)) return [k, v];
        try {
          return [k, JSON.parse(v)];
        } catch {
          return [k, v];
        }
      }),
    );
    await Deno.writeTextFile(`${dir}/${row.session_id}.json`, JSON.stringify(parsed, null, 2));
  }
}
