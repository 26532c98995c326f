/**
 * LibsqlStorage against the floor: the raw `@libsql/client` running the
 * equivalent hand-written SQL on an equivalent table, same file, same run.
 */
import { createClient } from "@libsql/client";
import { LibsqlStorage } from "../backends/libsql.ts";
import { measure, type Measurement, payload, table } from "./harness.ts";

/** Options of a bench section. */
export interface SectionOptions {
  /** Tiny sizes, for CI. */
  smoke: boolean;
  /** A scratch directory. */
  dir: string;
}

// The same layout LibsqlStorage creates (columns and every listing index), written by hand.
const RAW_SCHEMA = [
  `CREATE TABLE raw (session_id TEXT PRIMARY KEY NOT NULL, user_id TEXT, session_name TEXT, agent_id TEXT,
   team_session_id TEXT, memory TEXT, session_data TEXT, extra_data TEXT, agent_data TEXT,
   created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL)`,
  "CREATE INDEX raw_created ON raw (created_at, session_id)",
  "CREATE INDEX raw_updated ON raw (updated_at, session_id)",
  "CREATE INDEX raw_user_created ON raw (user_id, created_at, session_id)",
  "CREATE INDEX raw_user_updated ON raw (user_id, updated_at, session_id)",
  "CREATE INDEX raw_entity_created ON raw (agent_id, created_at, session_id)",
  "CREATE INDEX raw_entity_updated ON raw (agent_id, updated_at, session_id)",
  "CREATE INDEX raw_name ON raw (session_name)",
];

// An upsert that keeps createdAt, bumps the version and refuses another user's session: the same contract.
const RAW_UPSERT = "INSERT INTO raw (session_id, user_id, agent_id, memory, created_at, updated_at, version) " +
  "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id, " +
  "agent_id = excluded.agent_id, memory = excluded.memory, updated_at = excluded.updated_at, version = raw.version + 1 " +
  "WHERE raw.user_id IS NULL OR raw.user_id IS excluded.user_id RETURNING created_at, updated_at, version";

function rawSession(row: Record<string, unknown>) {
  const json = (v: unknown) => typeof v === "string" ? JSON.parse(v) : null;
  return {
    ...row,
    memory: json(row.memory),
    session_data: json(row.session_data),
    extra_data: json(row.extra_data),
    agent_data: json(row.agent_data),
  };
}

/** Runs the libSQL file workloads and returns a Markdown section. */
export async function libsqlSection({ smoke, dir }: SectionOptions): Promise<string> {
  const stored = smoke ? 200 : 10_000;
  const iterations = smoke ? 50 : 2000;
  const url = `file:${dir}/bench.db`;
  const ours = new LibsqlStorage({ url });
  const raw = createClient({ url, timeout: 5000, concurrency: 1 });
  await raw.execute("PRAGMA journal_mode = WAL");
  await raw.execute("PRAGMA synchronous = NORMAL");
  for (const sql of RAW_SCHEMA) await raw.execute(sql);
  await ours.create();

  const small = payload(2, 1);
  const smallText = JSON.stringify(small);
  const seedStart = Date.now();
  for (let start = 0; start < stored; start += 500) {
    const batch = Array.from({ length: Math.min(500, stored - start) }, (_, k) => ({
      sessionId: `seed-${start + k}`,
      userId: `user-${(start + k) % 50}`,
      agentId: "agent",
      memory: small,
    }));
    await ours.upsertMany(batch);
    await raw.batch(
      batch.map((s) => ({
        sql:
          "INSERT INTO raw (session_id, user_id, agent_id, memory, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, 1)",
        args: [s.sessionId, s.userId, s.agentId, smallText, Date.now(), Date.now()],
      })),
      "write",
    );
  }
  const seedMs = Date.now() - seedStart;

  const rows: [Measurement, Measurement][] = [];
  const pair = async (name: string, a: (i: number) => Promise<unknown>, b: (i: number) => Promise<unknown>) => {
    rows.push([await measure(name, a, iterations), await measure(name, b, iterations)]);
  };
  await pair(
    "insert new session (2 KB)",
    (i) => ours.upsert({ sessionId: `new-${i}`, userId: "u", memory: small }),
    (i) =>
      raw.execute({
        sql:
          "INSERT INTO raw (session_id, user_id, memory, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, 1) " +
          "ON CONFLICT (session_id) DO UPDATE SET memory = excluded.memory, updated_at = excluded.updated_at, " +
          "version = raw.version + 1 RETURNING *",
        args: [`new-${i}`, "u", JSON.stringify(small), Date.now(), Date.now()],
      }),
  );
  await pair(
    "update with expectedVersion (2 KB)",
    async () => {
      const s = await ours.read("seed-1");
      await ours.upsert({ ...s!, memory: small }, { expectedVersion: s!.version });
    },
    async () => {
      const r = await raw.execute({ sql: "SELECT * FROM raw WHERE session_id = ?", args: ["seed-1"] });
      rawSession(r.rows[0]!);
      await raw.execute({
        sql:
          "UPDATE raw SET memory = ?, updated_at = ?, version = version + 1 WHERE session_id = ? AND version = ? RETURNING *",
        args: [JSON.stringify(small), Date.now(), "seed-1", r.rows[0]!.version as number],
      });
    },
  );
  await pair("read (2 KB)", () => ours.read("seed-7"), async () => {
    const r = await raw.execute({ sql: "SELECT * FROM raw WHERE session_id = ?", args: ["seed-7"] });
    return rawSession(r.rows[0]!);
  });
  await pair("list page of 20 (by user)", () => ours.listSessions({ userId: "user-3", limit: 20 }), async () => {
    const r = await raw.execute({
      sql: "SELECT * FROM raw WHERE user_id = ? ORDER BY created_at DESC, session_id DESC LIMIT 21",
      args: ["user-3"],
    });
    return r.rows.map(rawSession);
  });
  await pair("getRecentSessions (2)", () => ours.getRecentSessions(), async () => {
    const r = await raw.execute("SELECT * FROM raw ORDER BY created_at DESC, session_id DESC LIMIT 3");
    return r.rows.map(rawSession);
  });
  const big = payload(50, 2);
  await pair(
    "insert new session (50 KB)",
    (i) => ours.upsert({ sessionId: `big-${i}`, memory: big }),
    (i) =>
      raw.execute({ sql: RAW_UPSERT, args: [`big-${i}`, null, null, JSON.stringify(big), Date.now(), Date.now()] }),
  );
  await ours.close();
  raw.close();

  const body = table(
    ["workload", "LibsqlStorage ops/s", "raw client ops/s", "ours mean ms", "raw mean ms", "ratio (ours / raw time)"],
    rows.map((
      [a, b],
    ) => [a.name, a.opsPerSec, b.opsPerSec, a.meanMs, b.meanMs, `${(a.meanMs / b.meanMs).toFixed(2)}×`]),
  );
  return `## libSQL file: LibsqlStorage vs the raw driver\n\n${stored.toLocaleString("en-US")} sessions stored ` +
    `(seeded in ${seedMs} ms with upsertMany batches of 500), ${iterations} iterations per workload, one connection, ` +
    `WAL, synchronous=NORMAL on both. The raw client runs the equivalent SQL by hand on the same layout ` +
    `(same columns and indexes; an ON CONFLICT upsert keeping createdAt and bumping the version; JSON columns parsed ` +
    `on read): the floor. Ours adds validation of every input (zod + a JSON walk), the ownership/TTL checks in SQL, ` +
    `and validation of every row read back.\n\n${body}\n`;
}
