/** Commands that look at or change single sessions: ls, show, rm, rename, stats, migrate. */
import {
  LIBSQL_SCHEMA_VERSION,
  LibsqlStorage,
  MODE_FIELDS,
  type Session,
  SESSION_MODES,
  type SessionMode,
} from "../mod.ts";
import { modeOf, open, parse, parseCount, parseTime, print } from "./args.ts";
import { UsageError } from "./errors.ts";

function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.min(40, Math.max(...rows.map((r) => r[i]!.length))));
  const cell = (text: string, width: number) =>
    text.length > width ? text.slice(0, width - 1) + "…" : text.padEnd(width);
  return rows.map((r) => r.map((c, i) => cell(c, widths[i]!)).join("  ").trimEnd());
}

/** `ls <url>`: one page of sessions as a table or JSON. */
export async function ls(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    user: { type: "string" },
    entity: { type: "string" },
    name: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    sort: { type: "string", default: "created" },
    order: { type: "string", default: "desc" },
    limit: { type: "string" },
    cursor: { type: "string" },
    json: { type: "boolean", default: false },
  });
  if (values.sort !== "created" && values.sort !== "updated") throw new UsageError("--sort must be created or updated");
  if (values.order !== "asc" && values.order !== "desc") throw new UsageError("--order must be asc or desc");
  await using storage = await open(positionals[0], values);
  const page = await storage.listSessions({
    ...(values.user ? { userId: values.user } : {}),
    ...(values.entity ? { entityId: values.entity } : {}),
    ...(values.name ? { sessionName: values.name } : {}),
    ...(values.since ? { createdAfter: parseTime(values.since, "--since")! - 1 } : {}),
    ...(values.until ? { createdBefore: parseTime(values.until, "--until") } : {}),
    sortBy: values.sort === "created" ? "createdAt" : "updatedAt",
    order: values.order,
    limit: parseCount(values.limit, "--limit", 20),
    cursor: values.cursor ?? null,
  });
  if (values.json) return print(JSON.stringify(page));
  const entity = MODE_FIELDS[storage.mode].entity;
  const rows = [["ID", "USER", entity.toUpperCase(), "NAME", "VERSION", "CREATED", "UPDATED"]];
  for (const s of page.sessions) {
    const r = s as unknown as Record<string, string | null>;
    rows.push([
      s.sessionId,
      s.userId ?? "-",
      r[entity] ?? "-",
      s.sessionName ?? "-",
      String(s.version),
      time(s.createdAt),
      time(s.updatedAt),
    ]);
  }
  for (const line of table(rows)) print(line);
  print(`${page.sessions.length} session(s)${page.nextCursor ? `; next page: --cursor ${page.nextCursor}` : ""}`);
}

/** `show <url> <id>`: one session and its latest runs. */
export async function show(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { user: { type: "string" }, json: { type: "boolean", default: false } });
  if (!positionals[1]) throw new UsageError("show needs a session id");
  await using storage = await open(positionals[0], values);
  const session = await storage.read(positionals[1], values.user);
  if (!session) throw new Error(`session ${JSON.stringify(positionals[1])} not found`);
  const { runs } = await storage.getRuns(session.sessionId, { order: "desc", limit: 5 });
  if (values.json) return print(JSON.stringify({ session, lastRuns: runs.reverse() }));
  print(JSON.stringify(session, null, 2));
  print(`runs: ${runs[0]?.seq ?? 0}${runs.length ? `; latest:` : ""}`);
  for (const r of runs.reverse()) print(`  #${r.seq} ${time(r.createdAt)} ${JSON.stringify(r.run).slice(0, 200)}`);
}

/** `rm <url> <id>`. */
export async function rm(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { user: { type: "string" } });
  if (!positionals[1]) throw new UsageError("rm needs a session id");
  await using storage = await open(positionals[0], values);
  const deleted = await storage.deleteSession(positionals[1], values.user ? { userId: values.user } : {});
  if (!deleted) throw new Error(`session ${JSON.stringify(positionals[1])} not found`);
  print(`deleted ${positionals[1]}`);
}

/** `rename <url> <id> <name>`. */
export async function rename(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { user: { type: "string" } });
  if (positionals.length !== 3) throw new UsageError("rename needs a session id and a name");
  await using storage = await open(positionals[0], values);
  const renamed = await storage.renameSession(
    positionals[1]!,
    positionals[2]!,
    values.user ? { userId: values.user } : {},
  );
  if (!renamed) throw new Error(`session ${JSON.stringify(positionals[1])} not found`);
  print(`renamed ${renamed.sessionId} to ${JSON.stringify(renamed.sessionName)} (version ${renamed.version})`);
}

/** `stats <url>`: counts per mode, users, oldest and newest, bytes. */
export async function stats(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { json: { type: "boolean", default: false } });
  const modes: SessionMode[] = args.includes("--mode") ? [modeOf(values.mode)] : [...SESSION_MODES];
  const report: Record<string, unknown> = {};
  for (const mode of modes) {
    await using storage = await open(positionals[0], values, mode);
    let sessions = 0;
    let bytes = 0;
    let oldest: Session | null = null;
    let newest: Session | null = null;
    const users = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: { sessions: Session[]; nextCursor: string | null } = await storage.listSessions({
        sortBy: "createdAt",
        order: "asc",
        limit: 1000,
        cursor,
      });
      for (const s of page.sessions) {
        sessions++;
        bytes += new TextEncoder().encode(JSON.stringify(s)).length;
        if (s.userId !== null) users.add(s.userId);
        oldest ??= s;
        newest = s;
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
    report[mode] = {
      sessions,
      users: users.size,
      oldest: oldest ? time(oldest.createdAt) : null,
      newest: newest ? time(newest.createdAt) : null,
      bytes,
    };
  }
  if (values.json) return print(JSON.stringify(report));
  for (const [mode, r] of Object.entries(report)) {
    const { sessions, users, oldest, newest, bytes } = r as Record<string, unknown>;
    print(
      `${mode}: ${sessions} session(s), ${users} user(s), oldest ${oldest ?? "-"}, newest ${
        newest ?? "-"
      }, ${bytes} bytes`,
    );
  }
}

/** `migrate <url>`: applies layout migrations, printing versions. */
export async function migrate(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  await using storage = await open(positionals[0], values);
  if (storage instanceof LibsqlStorage) {
    const before = await storage.schemaVersion();
    await storage.create();
    print(
      `${storage.table}: schema version ${before} -> ${await storage
        .schemaVersion()} (current ${LIBSQL_SCHEMA_VERSION})`,
    );
  } else {
    await storage.create();
    print(`${storage.backend}: created; this backend's layout has no versioned schema to migrate`);
  }
}
