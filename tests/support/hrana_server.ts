/**
 * A small Hrana-over-HTTP server (protocol version 2, JSON), written from the
 * Hrana specification, backed by a real SQLite file through `libsql` (the
 * engine `@libsql/client` embeds). It lets tests run `@libsql/client`'s HTTP
 * path (`http://…` URLs, as with Turso or sqld) without the network.
 *
 * - `GET /v3-protobuf` answers 404, so the client falls back to v2 JSON.
 * - `POST /v2/pipeline` `{ baton, requests }` → `{ baton, base_url, results }`,
 *   with requests `execute`, `batch` (step conditions `ok`, `error`, `not`,
 *   `and`, `or`, `is_autocommit`), `sequence`, `store_sql`, `close_sql`,
 *   `get_autocommit` and `close`.
 * - A stream is a database connection; the baton names it between requests,
 *   so interactive transactions span requests. Idle streams close after 10 s.
 * - `Authorization: Bearer <token>` is checked when a token is set (401).
 *
 * Busy waits would block this single-threaded server, so connections do not
 * wait for locks: a write racing another stream's open transaction fails
 * with `SQLITE_BUSY`.
 */
import Database from "libsql";

type HranaValue =
  | { type: "null" }
  | { type: "integer"; value: string }
  | { type: "float"; value: number }
  | { type: "text"; value: string }
  | { type: "blob"; base64: string };

interface HranaStmt {
  sql?: string;
  sql_id?: number;
  args?: HranaValue[];
  named_args?: { name: string; value: HranaValue }[];
  want_rows?: boolean;
}

type BatchCond =
  | { type: "ok" | "error"; step: number }
  | { type: "not"; cond: BatchCond }
  | { type: "and" | "or"; conds: BatchCond[] }
  | { type: "is_autocommit" };

interface HranaRequest {
  type: string;
  stmt?: HranaStmt;
  batch?: { steps: { condition?: BatchCond | null; stmt: HranaStmt }[] };
  sql?: string;
  sql_id?: number;
}

/** A running server. */
export interface HranaServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The token clients must send, if any. */
  token: string | undefined;
  /** HTTP requests received since start or `resetCounts()`. */
  readonly requests: number;
  /** Zeroes the counter. */
  resetCounts(): void;
  /** Stops the server and closes every connection. */
  stop(): Promise<void>;
}

interface Stream {
  db: Database.Database;
  sqls: Map<number, string>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

class HranaError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromValue(value: HranaValue): unknown {
  switch (value.type) {
    case "null":
      return null;
    case "integer":
      return BigInt(value.value);
    case "float":
      return value.value;
    case "text":
      return value.value;
    case "blob":
      return Uint8Array.from(atob(value.base64), (c) => c.charCodeAt(0));
    default:
      throw new HranaError(`unknown value type ${JSON.stringify((value as { type: unknown }).type)}`, "PROTO");
  }
}

function toValue(value: unknown): HranaValue {
  if (value === null || value === undefined) return { type: "null" };
  if (typeof value === "bigint") return { type: "integer", value: value.toString() };
  if (typeof value === "number") return { type: "float", value };
  if (typeof value === "string") return { type: "text", value };
  if (value instanceof Uint8Array) return { type: "blob", base64: toBase64(value) };
  if (value instanceof ArrayBuffer) return { type: "blob", base64: toBase64(new Uint8Array(value)) };
  throw new HranaError(`cannot encode ${typeof value}`, "PROTO");
}

function errorOf(error: unknown): { message: string; code: string } {
  const e = error as { message?: string; code?: string };
  return { message: e?.message ?? String(error), code: e?.code ?? "UNKNOWN" };
}

function execute(stream: Stream, stmt: HranaStmt) {
  const sql = stmt.sql ?? (stmt.sql_id !== undefined ? stream.sqls.get(stmt.sql_id) : undefined);
  if (sql === undefined) throw new HranaError("statement has neither sql nor a known sql_id", "PROTO");
  const prepared = stream.db.prepare(sql);
  prepared.safeIntegers(true);
  let params: unknown;
  if (stmt.named_args && stmt.named_args.length > 0) {
    const named: Record<string, unknown> = {};
    for (const { name, value } of stmt.named_args) named[name.replace(/^[:@$]/, "")] = fromValue(value);
    params = named;
  } else params = (stmt.args ?? []).map(fromValue);
  const changes = () =>
    Number(
      (stream.db.prepare("SELECT changes(), last_insert_rowid()").raw(true).safeIntegers(true).get() as bigint[])[0],
    );
  if (prepared.reader) {
    const rows = prepared.raw(true).all(params) as unknown[][];
    const writes = /^\s*(insert|update|delete|replace|with)\b/i.test(sql);
    return {
      cols: prepared.columns().map((c: { name: string; type: string | null }) => ({ name: c.name, decltype: c.type })),
      rows: stmt.want_rows === false ? [] : rows.map((row) => row.map(toValue)),
      affected_row_count: writes ? changes() : 0,
      last_insert_rowid: null,
    };
  }
  const info = prepared.run(params) as { changes: number; lastInsertRowid: bigint | number };
  return {
    cols: [],
    rows: [],
    affected_row_count: info.changes,
    last_insert_rowid: info.lastInsertRowid === undefined ? null : String(info.lastInsertRowid),
  };
}

function batch(stream: Stream, steps: { condition?: BatchCond | null; stmt: HranaStmt }[]) {
  const results: unknown[] = [];
  const errors: unknown[] = [];
  const holds = (cond: BatchCond): boolean => {
    switch (cond.type) {
      case "ok":
        return results[cond.step] != null;
      case "error":
        return errors[cond.step] != null;
      case "not":
        return !holds(cond.cond);
      case "and":
        return cond.conds.every(holds);
      case "or":
        return cond.conds.some(holds);
      case "is_autocommit":
        return !stream.db.inTransaction;
    }
  };
  for (const step of steps) {
    if (step.condition && !holds(step.condition)) {
      results.push(null);
      errors.push(null);
      continue;
    }
    try {
      results.push(execute(stream, step.stmt));
      errors.push(null);
    } catch (error) {
      results.push(null);
      errors.push(errorOf(error));
    }
  }
  return { step_results: results, step_errors: errors };
}

/** Starts a server over the SQLite database at `path` (a file: each stream opens its own connection). */
export function startHranaServer(options: { path: string; token?: string }): Promise<HranaServer> {
  const streams = new Map<string, Stream>();
  let requests = 0;

  const closeStream = (baton: string) => {
    const stream = streams.get(baton);
    if (!stream) return;
    clearTimeout(stream.timer);
    streams.delete(baton);
    if (stream.db.inTransaction) stream.db.exec("ROLLBACK");
    stream.db.close();
  };

  const handle = (stream: Stream, request: HranaRequest): unknown => {
    switch (request.type) {
      case "execute":
        return { type: "execute", result: execute(stream, request.stmt!) };
      case "batch":
        return { type: "batch", result: batch(stream, request.batch!.steps) };
      case "sequence":
        stream.db.exec(request.sql ?? stream.sqls.get(request.sql_id!) ?? "");
        return { type: "sequence" };
      case "store_sql":
        stream.sqls.set(request.sql_id!, request.sql!);
        return { type: "store_sql" };
      case "close_sql":
        stream.sqls.delete(request.sql_id!);
        return { type: "close_sql" };
      case "get_autocommit":
        return { type: "get_autocommit", is_autocommit: !stream.db.inTransaction };
      default:
        throw new HranaError(`request type ${JSON.stringify(request.type)} is not supported`, "PROTO");
    }
  };

  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    requests++;
    if (options.token !== undefined && req.headers.get("authorization") !== `Bearer ${options.token}`) {
      return json({ error: "Unauthorized" }, 401);
    }
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && path === "/v2") return new Response("ok");
    if (req.method !== "POST" || path !== "/v2/pipeline") return json({ error: "Not found" }, 404);
    const body = await req.json() as { baton?: string | null; requests: HranaRequest[] };
    let baton = body.baton;
    let stream: Stream;
    if (baton == null) {
      const db = new Database(options.path);
      db.exec("PRAGMA busy_timeout = 0");
      stream = { db, sqls: new Map(), timer: undefined };
      baton = crypto.randomUUID();
      streams.set(baton, stream);
    } else {
      const known = streams.get(baton);
      if (!known) return json({ error: "Unknown or expired baton" }, 400);
      stream = known;
      clearTimeout(stream.timer);
    }
    const results: unknown[] = [];
    let closed = false;
    for (const request of body.requests) {
      if (request.type === "close") {
        closeStream(baton);
        closed = true;
        results.push({ type: "ok", response: { type: "close" } });
        continue;
      }
      if (closed) {
        results.push({ type: "error", error: { message: "stream is closed", code: "STREAM_CLOSED" } });
        continue;
      }
      try {
        results.push({ type: "ok", response: handle(stream, request) });
      } catch (error) {
        results.push({ type: "error", error: errorOf(error) });
      }
    }
    if (!closed) {
      const b = baton;
      stream.timer = setTimeout(() => closeStream(b), 10_000);
    }
    return json({ baton: closed ? null : baton, base_url: null, results });
  });

  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}`,
    token: options.token,
    get requests() {
      return requests;
    },
    resetCounts() {
      requests = 0;
    },
    async stop() {
      for (const baton of [...streams.keys()]) closeStream(baton);
      await server.shutdown();
    },
  });
}
