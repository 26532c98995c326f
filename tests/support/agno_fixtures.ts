/**
 * Fixtures in Python agno v1's storage layouts, built from agno's own code
 * (`agno/storage/sqlite.py`, `agno/storage/json.py`, the session dataclasses):
 *
 * - `SqliteStorage`: one table per mode, created by SQLAlchemy from
 *   `get_table_v1()` (VARCHAR ids, `JSON` columns holding JSON text, where
 *   Python `None` is the text `null`; INTEGER epoch seconds; `updated_at` is
 *   NULL until the first update, since only the update sets it), plus an index
 *   per id column.
 * - `JsonStorage`: a flat directory of `<session_id>.json` files, each
 *   `asdict(session)` dumped with `indent=4, ensure_ascii=False`, `updated_at`
 *   set on every write and `created_at` possibly `null`; no subdirectory per
 *   mode, so an agent and a team storage on one directory mix their files.
 */
import { createClient } from "@libsql/client";

/** A row as agno's Python code holds it (JSON columns as values, not text). */
type AgnoRow = Record<string, unknown>;

/** agno v1 agent sessions. */
export const AGNO_AGENT_ROWS: AgnoRow[] = [
  {
    session_id: "agno-1",
    user_id: "ada",
    memory: {
      runs: [
        { input: "hi", content: "hello", created_at: 1_700_000_200 },
        { input: "more", content: "sure" },
      ],
      summary: null,
    },
    session_data: { session_name: "Research chat", session_state: { step: 2 } },
    extra_data: null,
    created_at: 1_700_000_000,
    updated_at: 1_700_000_500,
    agent_id: "research-agent",
    agent_data: { name: "Researcher", model: { provider: "OpenAI" } },
    team_session_id: null,
  },
  {
    session_id: "agno-2/ü",
    user_id: null,
    memory: { chats: [] },
    session_data: null,
    extra_data: { source: "import" },
    created_at: 1_700_000_100,
    updated_at: null,
    agent_id: "research-agent",
    agent_data: ["not", "an", "object"],
    team_session_id: "team-9",
  },
];

/** agno v1 team sessions. */
export const AGNO_TEAM_ROWS: AgnoRow[] = [
  {
    session_id: "team-1",
    user_id: "bob",
    memory: null,
    session_data: { session_name: "Standup" },
    extra_data: null,
    created_at: 1_700_001_000,
    updated_at: 1_700_001_060,
    team_id: "planners",
    team_data: { name: "Planners" },
    team_session_id: null,
  },
];

const MODE_COLUMNS: Record<"agent" | "team", [string, string][]> = {
  agent: [["agent_id", "VARCHAR"], ["agent_data", "JSON"], ["team_session_id", "VARCHAR"]],
  team: [["team_id", "VARCHAR"], ["team_data", "JSON"], ["team_session_id", "VARCHAR"]],
};

/**
 * Writes an agno v1 SqliteStorage database at `path` with an `agent_sessions`
 * and a `team_sessions` table. `agent_sessions` also has a column agno does
 * not know (`legacy_flag`, as a user's own `ALTER TABLE` would leave) and a
 * row whose `agent_data` is not JSON at all (a hand-edited row).
 */
export async function writeAgnoSqlite(path: string): Promise<void> {
  const client = createClient({ url: `file:${path}` });
  try {
    for (const [mode, rows] of [["agent", AGNO_AGENT_ROWS], ["team", AGNO_TEAM_ROWS]] as const) {
      const table = `${mode}_sessions`;
      const columns: [string, string][] = [
        ["session_id", "VARCHAR NOT NULL"],
        ["user_id", "VARCHAR"],
        ["memory", "JSON"],
        ["session_data", "JSON"],
        ["extra_data", "JSON"],
        ["created_at", "INTEGER"],
        ["updated_at", "INTEGER"],
        ...MODE_COLUMNS[mode],
      ];
      await client.execute(
        `CREATE TABLE ${table} (\n\t${
          columns.map(([n, t]) => `${n} ${t}`).join(", \n\t")
        }, \n\tPRIMARY KEY (session_id)\n)`,
      );
      for (const column of ["user_id", `${mode}_id`, "team_session_id"]) {
        await client.execute(`CREATE INDEX ix_${table}_${column} ON ${table} (${column})`);
      }
      const names = columns.map(([n]) => n);
      const json = new Set(columns.filter(([, t]) => t === "JSON").map(([n]) => n));
      for (const row of rows) {
        await client.execute({
          sql: `INSERT INTO ${table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
          // SQLAlchemy's JSON type stores json.dumps(value): Python None becomes the text "null".
          args: names.map((n) =>
            json.has(n) ? JSON.stringify(row[n] ?? null) : (row[n] ?? null) as string | number | null
          ),
        });
      }
    }
    await client.execute("ALTER TABLE agent_sessions ADD COLUMN legacy_flag TEXT");
    await client.execute("UPDATE agent_sessions SET legacy_flag = 'yes' WHERE session_id = 'agno-1'");
    await client.execute({
      sql: "INSERT INTO agent_sessions (session_id, agent_data, created_at) VALUES (?, ?, ?)",
      args: ["agno-3", "not json at all", 1_700_000_300],
    });
  } finally {
    client.close();
  }
}

/**
 * Writes an agno v1 JsonStorage directory at `dir`: the agent sessions and,
 * in the same flat directory, the team sessions (a team storage on the same
 * `dir_path`). The second agent session has `created_at: null`, as
 * `asdict` leaves it when agno never set it.
 */
export async function writeAgnoJsonDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const files = [
    ...AGNO_AGENT_ROWS.map((row, i) => (i === 1 ? { ...row, created_at: null, updated_at: 1_700_000_100 } : row)),
    ...AGNO_TEAM_ROWS,
  ];
  for (const row of files) {
    // agno writes `dir_path / f"{session_id}.json"`; our ids avoid path separators there.
    const name = String(row.session_id).replaceAll("/", "_");
    await Deno.writeTextFile(`${dir}/${name}.json`, JSON.stringify(row, null, 4));
  }
}
