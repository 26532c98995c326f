/**
 * A small Hrana-over-HTTP server for tests, written from the Hrana 3
 * specification and backed by a real SQLite database through the embedded
 * `@libsql/client` (`file:` URLs). It lets tests drive `@libsql/client`'s HTTP
 * path (`http://…` URLs, as with Turso or sqld) without the network.
 *
 * Endpoints:
 * - `GET /v2` and `GET /v3` answer 200 (no token needed: clients probe
 *   without one); `GET /v3-protobuf` answers 404, so a client that probes
 *   for Protobuf falls back to JSON. `@libsql/client` 0.18 probes nothing:
 *   it posts straight to `/v2/pipeline`.
 * - `POST /v2/pipeline` and `POST /v3/pipeline` (JSON, same handling):
 *   `{ baton, requests }` → `{ baton, base_url: null, results }` with requests
 *   `execute`, `batch` (step conditions `ok`, `error`, `not`, `and`, `or`,
 *   `is_autocommit`), `sequence`, `store_sql`, `close_sql`, `get_autocommit`
 *   and `close`. `describe` answers an error result; cursors are not served.
 * - With a token, `POST` requests need `Authorization: Bearer <token>` (401).
 *
 * Streams: a stream is a dedicated embedded client with one connection. Every
 * response carries a fresh baton (the old one stops working); a stream closes
 * on `close`, after `idleTimeoutMs` without a request, or on `stop()`, and an
 * open transaction is rolled back then.
 *
 * Transactions: the embedded client rolls back a transaction that a plain
 * `execute` leaves open, so a statement of the form `BEGIN [DEFERRED |
 * IMMEDIATE | EXCLUSIVE] [TRANSACTION] [READONLY]` (alone in its text) becomes
 * `client.transaction(mode)` and the stream's later statements run on that
 * transaction until SQLite leaves it (COMMIT, ROLLBACK, END or an error that
 * rolls back). EXCLUSIVE is taken as IMMEDIATE (the same in WAL mode). A
 * `SAVEPOINT` or a `sequence` that opens a transaction outside of one has it
 * rolled back when the statement ends.
 *
 * Locks: one thread runs every stream, so SQLite must never wait for a lock
 * itself (the holder could not commit meanwhile). Connections have no busy
 * timeout; the server retries a statement that fails with `SQLITE_BUSY`
 * between other requests until `busyTimeoutMs` has passed, so a transaction
 * waits for another to finish as with sqld. A `sequence` is not retried (part
 * of it may have run).
 */
import { Buffer } from "node:buffer";
import {
  type Client,
  createClient,
  type InArgs,
  type InValue,
  type ResultSet,
  type Transaction,
  type TransactionMode,
} from "@libsql/client/sqlite3";

/** Where the database lives and how the server behaves. */
export type HranaServerOptions =
  & (
    /** A `file:` URL, or `:memory:` for a private temporary file removed by `stop()`. */
    | { dbUrl: string; path?: never }
    /** A file path (the older spelling of `dbUrl: "file:<path>"`). */
    | { path: string; dbUrl?: never }
  )
  & {
    /** When set, pipeline requests need `Authorization: Bearer <token>`. */
    token?: string;
    /** How long a statement keeps retrying while the database is locked (5000 ms). */
    busyTimeoutMs?: number;
    /** How long an unused stream lives (10 000 ms). */
    idleTimeoutMs?: number;
    /** Put the database in WAL mode at start (true). */
    wal?: boolean;
  };

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
  /** Stops the server, rolls back and closes every stream. */
  stop(): Promise<void>;
}

type Value =
  | { type: "null" }
  | { type: "integer"; value: string }
  | { type: "float"; value: number }
  | { type: "text"; value: string }
  | { type: "blob"; base64: string };

interface Stmt {
  sql?: string | null;
  sql_id?: number | null;
  args?: Value[];
  named_args?: { name: string; value: Value }[];
  want_rows?: boolean;
}

type Cond =
  | { type: "ok" | "error"; step: number }
  | { type: "not"; cond: Cond }
  | { type: "and" | "or"; conds: Cond[] }
  | { type: "is_autocommit" };

interface Batch {
  steps: { condition?: Cond | null; stmt: Stmt }[];
}

type StreamRequest =
  | { type: "close" | "get_autocommit" }
  | { type: "execute"; stmt: Stmt }
  | { type: "batch"; batch: Batch }
  | { type: "sequence" | "describe"; sql?: string | null; sql_id?: number | null }
  | { type: "store_sql"; sql_id: number; sql: string }
  | { type: "close_sql"; sql_id: number };

interface StmtResult {
  cols: { name: string | null; decltype: string | null }[];
  rows: Value[][];
  affected_row_count: number;
  last_insert_rowid: string | null;
}

interface ErrorBody {
  message: string;
  code: string;
}

/** A malformed request, answered as an error result with its code. */
class HranaError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

interface Stream {
  client: Client;
  /** The open transaction, while SQLite is in one on this stream's connection. */
  tx: Transaction | undefined;
  sqls: Map<number, string>;
  baton: string | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  closed: boolean;
}

const BEGIN = /^\s*BEGIN(?:\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(?:\s+TRANSACTION)?(?:\s+(READONLY))?\s*;?\s*$/i;
const DML_RETURNING = /^\s*(?:WITH|INSERT|UPDATE|DELETE|REPLACE)\b[\s\S]*\bRETURNING\b/i;

/** The transaction mode of a statement that only begins a transaction. */
function beginMode(sql: string): TransactionMode | undefined {
  const match = BEGIN.exec(sql);
  if (!match) return undefined;
  if (match[2]) return "read";
  return match[1] && match[1].toUpperCase() !== "DEFERRED" ? "write" : "deferred";
}

function decodeValue(value: Value): InValue {
  switch (value?.type) {
    case "null":
      return null;
    case "integer":
      if (typeof value.value !== "string" || !/^-?\d+$/.test(value.value)) {
        throw new HranaError("an integer value must be a string of digits", "PROTO");
      }
      return BigInt(value.value);
    case "float":
      if (typeof value.value !== "number") throw new HranaError("a float value must be a number", "PROTO");
      return value.value;
    case "text":
      if (typeof value.value !== "string") throw new HranaError("a text value must be a string", "PROTO");
      return value.value;
    case "blob": {
      if (typeof value.base64 !== "string") throw new HranaError("a blob value needs base64", "PROTO");
      return new Uint8Array(Buffer.from(value.base64, "base64")).buffer;
    }
    default:
      throw new HranaError(`unknown value type ${JSON.stringify((value as { type?: unknown })?.type)}`, "PROTO");
  }
}

function encodeValue(value: unknown): Value {
  if (value === null || value === undefined) return { type: "null" };
  if (typeof value === "bigint") return { type: "integer", value: value.toString() };
  if (typeof value === "number") return { type: "float", value };
  if (typeof value === "string") return { type: "text", value };
  if (value instanceof ArrayBuffer) return { type: "blob", base64: Buffer.from(value).toString("base64") };
  if (value instanceof Uint8Array) {
    return { type: "blob", base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  throw new HranaError(`cannot encode a ${typeof value} value`, "INTERNAL");
}

function argsOf(stmt: Stmt): InArgs {
  const named = stmt.named_args ?? [];
  const positional = stmt.args ?? [];
  if (!Array.isArray(named) || !Array.isArray(positional)) throw new HranaError("args must be arrays", "PROTO");
  if (named.length > 0 && positional.length > 0) {
    throw new HranaError("this server cannot bind positional and named arguments together", "ARGS_INVALID");
  }
  if (named.length === 0) return positional.map(decodeValue);
  const args: Record<string, InValue> = {};
  for (const arg of named) args[arg.name] = decodeValue(arg.value);
  return args;
}

function errorOf(error: unknown): ErrorBody {
  if (error instanceof HranaError) return { message: error.message, code: error.code };
  const e = error as { message?: unknown; code?: unknown };
  const code = typeof e?.code === "string" ? e.code : "UNKNOWN";
  let message = typeof e?.message === "string" ? e.message : String(error);
  // LibsqlError prefixes its code; the client adds it again from `code`.
  if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2);
  return { message, code };
}

function isBusy(error: unknown): boolean {
  const e = error as { code?: unknown; extendedCode?: unknown };
  return e?.code === "SQLITE_BUSY" && e.extendedCode !== "SQLITE_BUSY_SNAPSHOT";
}

function toFileUrl(path: string): string {
  return `file:${path.split("/").map(encodeURIComponent).join("/")}`;
}

/** Starts a server; see the module documentation for what it serves. */
export async function startHranaServer(options: HranaServerOptions): Promise<HranaServer> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  let tempDir: string | undefined;
  let dbUrl = options.dbUrl ?? toFileUrl(options.path!);
  if (/^(?:file:)?:memory:/.test(dbUrl)) {
    // Every stream needs its own connection to the same database, which a
    // private in-memory database cannot give; a temporary file can.
    tempDir = await Deno.makeTempDir({ prefix: "hrana-memory-" });
    dbUrl = toFileUrl(`${tempDir}/db.sqlite`);
  }
  const open = () => createClient({ url: dbUrl, intMode: "bigint", concurrency: 1, timeout: 0 });
  try {
    const setup = open();
    try {
      if (options.wal ?? true) await setup.execute("PRAGMA journal_mode = WAL");
    } finally {
      setup.close();
    }
  } catch (error) {
    if (tempDir) await Deno.remove(tempDir, { recursive: true });
    throw error;
  }

  const streams = new Set<Stream>();
  const batons = new Map<string, Stream>();
  let requests = 0;
  let stopped = false;

  const closeStream = (stream: Stream) => {
    if (stream.closed) return;
    stream.closed = true;
    clearTimeout(stream.timer);
    streams.delete(stream);
    if (stream.baton !== undefined) batons.delete(stream.baton);
    try {
      stream.tx?.close();
    } finally {
      stream.tx = undefined;
      stream.client.close();
    }
  };

  /** Runs `op`, retrying while it fails with `SQLITE_BUSY`, until the busy timeout. */
  const retryBusy = async <T>(op: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + busyTimeoutMs;
    for (let delay = 1;; delay = Math.min(delay * 2, 20)) {
      try {
        return await op();
      } catch (error) {
        if (!isBusy(error) || stopped || Date.now() + delay > deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  };

  /** Forgets the transaction once SQLite has left it, returning the connection to the stream's client. */
  const settle = (stream: Stream) => {
    if (stream.tx?.closed) {
      stream.tx.close();
      stream.tx = undefined;
    }
  };

  const run = (stream: Stream, sql: string, args: InArgs = []): Promise<ResultSet> =>
    retryBusy(() => (stream.tx ?? stream.client).execute({ sql, args })).finally(() => settle(stream));

  const sqlOf = (stream: Stream, sql: string | null | undefined, sqlId: number | null | undefined): string => {
    if (typeof sql === "string") return sql;
    if (typeof sqlId === "number") {
      const stored = stream.sqls.get(sqlId);
      if (stored === undefined) throw new HranaError(`no SQL text is stored under id ${sqlId}`, "SQL_ID_UNKNOWN");
      return stored;
    }
    throw new HranaError("a statement needs sql or sql_id", "PROTO");
  };

  const execute = async (stream: Stream, stmt: Stmt): Promise<StmtResult> => {
    if (typeof stmt !== "object" || stmt === null) throw new HranaError("stmt must be an object", "PROTO");
    const sql = sqlOf(stream, stmt.sql, stmt.sql_id);
    const args = argsOf(stmt);
    const mode = stream.tx === undefined ? beginMode(sql) : undefined;
    if (mode !== undefined) {
      stream.tx = await retryBusy(() => stream.client.transaction(mode));
      return { cols: [], rows: [], affected_row_count: 0, last_insert_rowid: null };
    }
    // The embedded client reports no changes for statements that return rows.
    const returning = DML_RETURNING.test(sql);
    const before = returning ? (await run(stream, "SELECT total_changes()")).rows[0]![0] as bigint : 0n;
    const result = await run(stream, sql, args);
    let affected = result.rowsAffected;
    let lastRowid = result.lastInsertRowid;
    if (returning && result.columns.length > 0) {
      const after = (await run(stream, "SELECT changes(), total_changes(), last_insert_rowid()")).rows[0]!;
      affected = after[1] === before ? 0 : Number(after[0]);
      lastRowid = after[2] as bigint;
    }
    const width = result.columns.length;
    return {
      cols: result.columns.map((name, i) => ({ name, decltype: result.columnTypes[i] || null })),
      rows: stmt.want_rows === false
        ? []
        : result.rows.map((row) => Array.from({ length: width }, (_, i) => encodeValue(row[i]))),
      affected_row_count: affected,
      last_insert_rowid: lastRowid === undefined ? null : String(lastRowid),
    };
  };

  const batch = async (stream: Stream, request: Batch) => {
    if (!Array.isArray(request?.steps)) throw new HranaError("batch.steps must be an array", "PROTO");
    const results: (StmtResult | null)[] = [];
    const errors: (ErrorBody | null)[] = [];
    const holds = (cond: Cond): boolean => {
      switch (cond?.type) {
        case "ok":
        case "error":
          if (!Number.isInteger(cond.step) || cond.step < 0 || cond.step >= results.length) {
            throw new HranaError(`a condition refers to step ${cond.step}, which has not run yet`, "PROTO");
          }
          return (cond.type === "ok" ? results : errors)[cond.step] !== null;
        case "not":
          return !holds(cond.cond);
        case "and":
          return cond.conds.every(holds);
        case "or":
          return cond.conds.some(holds);
        case "is_autocommit":
          return stream.tx === undefined;
        default:
          throw new HranaError(`unknown condition ${JSON.stringify((cond as { type?: unknown })?.type)}`, "PROTO");
      }
    };
    for (const step of request.steps) {
      if (step.condition != null && !holds(step.condition)) {
        results.push(null);
        errors.push(null);
        continue;
      }
      try {
        results.push(await execute(stream, step.stmt));
        errors.push(null);
      } catch (error) {
        results.push(null);
        errors.push(errorOf(error));
      }
    }
    return { step_results: results, step_errors: errors };
  };

  const handle = async (stream: Stream, request: StreamRequest): Promise<unknown> => {
    switch (request?.type) {
      case "close":
        closeStream(stream);
        return { type: "close" };
      case "execute":
        return { type: "execute", result: await execute(stream, request.stmt) };
      case "batch":
        return { type: "batch", result: await batch(stream, request.batch) };
      case "sequence": {
        const sql = sqlOf(stream, request.sql, request.sql_id);
        try {
          await (stream.tx ?? stream.client).executeMultiple(sql);
        } finally {
          settle(stream);
        }
        return { type: "sequence" };
      }
      case "describe":
        throw new HranaError("describe is not supported by this test server", "NOT_SUPPORTED");
      case "store_sql":
        if (!Number.isInteger(request.sql_id) || typeof request.sql !== "string") {
          throw new HranaError("store_sql needs an integer sql_id and a sql string", "PROTO");
        }
        if (stream.sqls.has(request.sql_id)) {
          throw new HranaError(`SQL text id ${request.sql_id} is already in use`, "PROTO");
        }
        stream.sqls.set(request.sql_id, request.sql);
        return { type: "store_sql" };
      case "close_sql":
        stream.sqls.delete(request.sql_id);
        return { type: "close_sql" };
      case "get_autocommit":
        return { type: "get_autocommit", is_autocommit: stream.tx === undefined };
      default:
        throw new HranaError(
          `unknown request type ${JSON.stringify((request as { type?: unknown })?.type)}`,
          "PROTO",
        );
    }
  };

  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const failure = (status: number, message: string, code: string) => json({ message, code }, status);

  const pipeline = async (req: Request): Promise<Response> => {
    let body: { baton?: unknown; requests?: unknown };
    try {
      body = await req.json();
    } catch {
      return failure(400, "the request body is not JSON", "PROTO");
    }
    if (typeof body !== "object" || body === null || !Array.isArray(body.requests)) {
      return failure(400, "the request body needs a requests array", "PROTO");
    }
    let stream: Stream;
    if (body.baton == null) {
      let client: Client;
      try {
        client = open();
      } catch (error) {
        const { message, code } = errorOf(error);
        return failure(500, message, code);
      }
      stream = { client, tx: undefined, sqls: new Map(), baton: undefined, timer: undefined, closed: false };
      streams.add(stream);
    } else {
      const known = typeof body.baton === "string" ? batons.get(body.baton) : undefined;
      if (!known) return failure(400, "the baton is unknown, used or expired", "STREAM_EXPIRED");
      stream = known;
      batons.delete(body.baton as string);
      stream.baton = undefined;
      clearTimeout(stream.timer);
    }
    const results: unknown[] = [];
    for (const request of body.requests as StreamRequest[]) {
      if (stream.closed) {
        results.push({ type: "error", error: { message: "the stream is closed", code: "STREAM_CLOSED" } });
        continue;
      }
      try {
        results.push({ type: "ok", response: await handle(stream, request) });
      } catch (error) {
        results.push({ type: "error", error: errorOf(error) });
      }
    }
    if (stopped) closeStream(stream);
    let baton: string | null = null;
    if (!stream.closed) {
      baton = crypto.randomUUID();
      stream.baton = baton;
      batons.set(baton, stream);
      stream.timer = setTimeout(() => closeStream(stream), idleTimeoutMs);
    }
    return json({ baton, base_url: null, results });
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    requests++;
    const path = new URL(req.url).pathname;
    if (req.method === "GET") {
      if (path === "/v2" || path === "/v3") return new Response("ok");
      return new Response("Not Found", { status: 404 });
    }
    if (req.method !== "POST" || (path !== "/v2/pipeline" && path !== "/v3/pipeline")) {
      await req.body?.cancel();
      return new Response("Not Found", { status: 404 });
    }
    if (options.token !== undefined && req.headers.get("authorization") !== `Bearer ${options.token}`) {
      await req.body?.cancel();
      return new Response("Unauthorized", { status: 401 });
    }
    return await pipeline(req);
  });

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    token: options.token,
    get requests() {
      return requests;
    },
    resetCounts() {
      requests = 0;
    },
    async stop() {
      stopped = true;
      await server.shutdown();
      for (const stream of [...streams]) closeStream(stream);
      if (tempDir) await Deno.remove(tempDir, { recursive: true });
    },
  };
}
