/** Commands that look at or change single sessions: ls, show, rm, rename, migrate. */
import { MODE_FIELDS } from "../backend.ts";
import { findBackend } from "../backends/registry.ts";
import { notFound, open, parse, parseCount, parseTime, print, str, TTL_OPTION, ttlOf } from "./args.ts";
import { UsageError } from "./errors.ts";
import { clip, displayWidth, fit, printable, time } from "./text.ts";

/** Columns of a run shown by `show` (longer ones end in `…`; `--json` has them whole). */
const RUN_WIDTH = 200;

function table(rows: string[][]): string[] {
  // Ids are never cut (they are what `show`, `rm` and `rename` take); other columns are cut at 40 columns.
  const shown = rows.map((r) => r.map(printable));
  const widths = shown[0]!.map((_, i) =>
    Math.min(i === 0 ? Infinity : 40, Math.max(...shown.map((r) => displayWidth(r[i]!))))
  );
  return shown.map((r) => r.map((c, i) => fit(c, widths[i]!)).join("  ").trimEnd());
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
    ...TTL_OPTION,
  });
  if (positionals.length > 1) throw new UsageError(`ls takes one storage URL, got ${positionals.length} arguments`);
  const sort = str(values, "sort");
  const order = str(values, "order");
  if (sort !== "created" && sort !== "updated") throw new UsageError("--sort must be created or updated");
  if (order !== "asc" && order !== "desc") throw new UsageError("--order must be asc or desc");
  const since = parseTime(str(values, "since"), "--since");
  const until = parseTime(str(values, "until"), "--until");
  const limit = parseCount(str(values, "limit"), "--limit", 20);
  const ttlMs = ttlOf(values);
  await using storage = await open(positionals[0], values, { mustExist: true, readOnly: true, ttlMs });
  const user = str(values, "user"), entity = str(values, "entity"), name = str(values, "name");
  const page = await storage.listSessions({
    ...(user !== undefined ? { userId: user } : {}),
    ...(entity !== undefined ? { entityId: entity } : {}),
    ...(name !== undefined ? { sessionName: name } : {}),
    // --since is inclusive, createdAfter exclusive.
    ...(since !== undefined ? { createdAfter: since - 1 } : {}),
    ...(until !== undefined ? { createdBefore: until } : {}),
    sortBy: sort === "created" ? "createdAt" : "updatedAt",
    order,
    limit,
    cursor: str(values, "cursor") ?? null,
  });
  if (values.json) return print(JSON.stringify(page));
  const entityField = MODE_FIELDS[storage.mode].entity;
  const rows = [["ID", "USER", entityField.toUpperCase(), "NAME", "VERSION", "CREATED (UTC)", "UPDATED (UTC)"]];
  for (const s of page.sessions) {
    rows.push([
      s.sessionId,
      s.userId ?? "-",
      (s as unknown as Record<string, string | null>)[entityField] ?? "-",
      s.sessionName ?? "-",
      String(s.version),
      time(s.createdAt),
      time(s.updatedAt),
    ]);
  }
  for (const line of table(rows)) print(line);
  print(`${page.sessions.length} session(s)${page.nextCursor ? `; next page: --cursor ${page.nextCursor}` : ""}`);
}

/** `show <url> <id>`: one session, its run count and its latest runs. */
export async function show(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    user: { type: "string" },
    runs: { type: "string" },
    json: { type: "boolean", default: false },
    ...TTL_OPTION,
  });
  const [url, id] = positionals;
  if (!id || positionals.length > 2) throw new UsageError("show needs a storage URL and a session id");
  const count = parseCount(str(values, "runs"), "--runs", 5);
  const ttlMs = ttlOf(values);
  await using storage = await open(url, values, { mustExist: true, readOnly: true, ttlMs });
  const user = str(values, "user");
  const session = await storage.read(id, user);
  if (!session) throw notFound(id, values);
  const { runs } = await storage.getRuns(id, { order: "desc", limit: Math.min(count, 1000), ...userOf(user) });
  const runCount = runs[0]?.seq ?? 0;
  runs.reverse();
  if (values.json) return print(JSON.stringify({ session, runCount, lastRuns: runs }));
  print(JSON.stringify(session, null, 2));
  print(`runs: ${runCount}${runs.length ? `; latest ${runs.length}:` : ""}`);
  for (const r of runs) {
    print(printable(`  #${r.seq} ${time(r.createdAt)} UTC ${clip(JSON.stringify(r.run), RUN_WIDTH)}`));
  }
}

function userOf(user: string | undefined): { userId?: string } {
  return user !== undefined ? { userId: user } : {};
}

/** `rm <url> <id>`: deletes a session and its runs. */
export async function rm(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { user: { type: "string" } });
  const [url, id] = positionals;
  if (!id || positionals.length > 2) throw new UsageError("rm needs a storage URL and a session id");
  await using storage = await open(url, values, { mustExist: true });
  if (!await storage.deleteSession(id, userOf(str(values, "user")))) {
    throw new Error(`session ${JSON.stringify(id)} not found`);
  }
  print(`deleted ${id}`);
}

/** `rename <url> <id> <name>`: sets a session's name. */
export async function rename(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { user: { type: "string" } });
  const [url, id, name] = positionals;
  if (name === undefined || positionals.length > 3) {
    throw new UsageError("rename needs a storage URL, a session id and a name");
  }
  await using storage = await open(url, values, { mustExist: true });
  const renamed = await storage.renameSession(id!, name, userOf(str(values, "user")));
  if (!renamed) throw new Error(`session ${JSON.stringify(id)} not found`);
  print(`renamed ${renamed.sessionId} to ${JSON.stringify(renamed.sessionName)} (version ${renamed.version})`);
}

/** `migrate <url>`: creates the layout and applies migrations, printing schema versions for libSQL. */
export async function migrate(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  if (positionals.length !== 1) throw new UsageError("migrate takes one storage URL");
  await using storage = await open(positionals[0], values);
  const schema = findBackend(positionals[0]!)?.capabilities?.schemaVersioned;
  if (schema) {
    const before = await schema.current(storage);
    await storage.create();
    const after = await schema.current(storage);
    print(`${schema.where(storage)}: schema version ${before} -> ${after} (current ${await schema.latest()})`);
  } else {
    await storage.create();
    print(`${storage.backend} (${storage.mode}): layout created and current; no versioned schema to migrate`);
  }
}
