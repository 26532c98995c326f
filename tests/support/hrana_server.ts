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
 * Locks: the database is put in WAL mode, so reads never wait. One thread
 * runs every stream, so SQLite must never wait for a lock itself (the holder
 * could not commit meanwhile): connections have no busy timeout, and the
 * server does the waiting between requests, up to `busyTimeoutMs`. A write
 * (`BEGIN IMMEDIATE`, or a statement starting INSERT, UPDATE, DELETE,
 * REPLACE, CREATE, DROP or ALTER outside of a transaction or first in a
 * deferred one) waits while another stream of this server holds the write
 * lock, then runs. A statement that still finds the database locked (another
 * process, or a guess gone wrong) stays active inside the libsql engine,
 * which poisons its connection: outside of a transaction, or first in a
 * deferred one, the server drops the connection and retries on a new one
 * until the busy timeout; later in a transaction, the statement fails with
 * `SQLITE_BUSY` and the transaction can then only roll back. A `sequence` is
 * never retried (part of it may have run). A dropped connection lingers until
 * garbage collection and holds back WAL checkpoints meanwhile.
 *
 * Engine limits: a text value containing U+0000 is stored whole, but the
 * engine returns it cut at the NUL. Positional and named arguments cannot be
 * mixed in one statement.
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

/** What the server needs of a `ResultSet`. */
type Result = Pick<ResultSet, "columns" | "columnTypes" | "rows" | "rowsAffected" | "lastInsertRowid">;

const EMPTY: Result = { columns: [], columnTypes: [], rows: [], rowsAffected: 0, lastInsertRowid: undefined };

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
  txMode: TransactionMode | undefined;
  /** No statement has run in `tx` yet, so it can be begun again. */
  txFresh: boolean;
  /** A statement in the transaction found the database locked; only ROLLBACK is possible. */
  poisoned: boolean;
  sqls: Map<number, string>;
  baton: string | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  closed: boolean;
}

const BEGIN = /^\s*BEGIN(?:\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(?:\s+TRANSACTION)?(?:\s+(READONLY))?\s*;?\s*$/i;
const ROLLBACK = /^\s*ROLLBACK(?:\s+TRANSACTION)?\s*;?\s*$/i;
/** Statements that take the write lock (a guess that only decides whether to wait before trying). */
const WRITE = /^\s*(?:INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b/i;
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
  return (error as { code?: unknown })?.code === "SQLITE_BUSY";
}

/** Outside of a transaction (a poisoned one counts as open until rolled back). */
function isAutocommit(stream: Stream): boolean {
  return stream.tx === undefined && !stream.poisoned;
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
      await setup.execute("PRAGMA journal_mode = WAL");
    } finally {
      setup.close();
    }
  } catch (error) {
    if (tempDir) await Deno.remove(tempDir, { recursive: true });
    throw error;
  }

  const streams = new Set<Stream>();
  const batons = new Map<string, Stream>();
  /** Streams known to hold the write lock: in a write transaction, or a transaction that has written. */
  const writers = new Set<Stream>();
  let wakeups: (() => void)[] = [];
  let requests = 0;
  let stopped = false;

  /** Wakes the statements waiting for the write lock, as it may be free now. */
  const lockMayBeFree = () => {
    const waiting = wakeups;
    wakeups = [];
    for (const wake of waiting) wake();
  };

  /**
   * Waits until `lockMayBeFree()` or a short while (another process may hold
   * the lock), not past `deadline`, and always through a timer, so that
   * waiting streams cannot keep the event loop to themselves.
   */
  const waitForLock = (deadline: number, round: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        timer = setTimeout(done, 0);
      };
      const done = () => {
        wakeups = wakeups.filter((w) => w !== wake);
        resolve();
      };
      let timer = setTimeout(done, Math.max(0, Math.min(2 ** round, 50, deadline - Date.now())));
      wakeups.push(wake);
    });

  /** Waits while another of this server's streams holds the write lock; a busy error once `deadline` passes. */
  const waitForWriters = async (stream: Stream, deadline: number) => {
    for (let round = 0; [...writers].some((w) => w !== stream); round++) {
      if (stopped || Date.now() >= deadline) throw new HranaError("database is locked", "SQLITE_BUSY");
      await waitForLock(deadline, round);
    }
  };

  /** Leaves the stream's transaction, rolling back if SQLite is still in it. */
  const endTransaction = (stream: Stream, mayRelease: boolean) => {
    const tx = stream.tx;
    stream.tx = undefined;
    stream.txMode = undefined;
    stream.txFresh = false;
    stream.poisoned = false;
    writers.delete(stream);
    try {
      tx?.close();
    } finally {
      if (tx && mayRelease) lockMayBeFree();
    }
  };

  /** Forgets the transaction once SQLite has left it (COMMIT, ROLLBACK, an error that rolled back). */
  const settle = (stream: Stream) => {
    if (stream.tx?.closed) endTransaction(stream, true);
  };

  /**
   * Gives the stream a new connection. A statement that failed with
   * SQLITE_BUSY stays active inside the engine, so its connection could not
   * commit again; it is dropped (and rolled back) instead.
   */
  const reconnect = (stream: Stream, mayRelease: boolean) => {
    try {
      endTransaction(stream, mayRelease);
    } catch {
      // the connection is dropped below either way
    }
    stream.client.close();
    stream.client = open();
  };

  const closeStream = (stream: Stream) => {
    if (stream.closed) return;
    stream.closed = true;
    clearTimeout(stream.timer);
    streams.delete(stream);
    if (stream.baton !== undefined) batons.delete(stream.baton);
    try {
      endTransaction(stream, true);
    } finally {
      stream.client.close();
    }
  };

  const begin = async (stream: Stream, mode: TransactionMode, deadline: number) => {
    for (let round = 0;; round++) {
      if (mode === "write") await waitForWriters(stream, deadline);
      try {
        stream.tx = await stream.client.transaction(mode);
      } catch (error) {
        if (!isBusy(error)) throw error;
        reconnect(stream, false);
        if (stopped || Date.now() >= deadline) throw error;
        await waitForLock(deadline, round);
        continue;
      }
      stream.txMode = mode;
      stream.txFresh = true;
      if (mode === "write") writers.add(stream);
      return;
    }
  };

  /**
   * Runs one statement on the stream. Outside of a transaction, or first in
   * a deferred one, a statement that finds the database locked is retried
   * on a new connection until the busy timeout; later in a transaction, it
   * leaves the transaction only able to roll back.
   */
  const run = async (stream: Stream, sql: string, args: InArgs = []): Promise<Result> => {
    const deadline = Date.now() + busyTimeoutMs;
    if (stream.poisoned) {
      if (!ROLLBACK.test(sql)) {
        throw new HranaError("database is locked; this transaction can only be rolled back", "SQLITE_BUSY");
      }
      reconnect(stream, true);
      return EMPTY;
    }
    if (stream.tx === undefined) {
      const mode = beginMode(sql);
      if (mode !== undefined) {
        await begin(stream, mode, deadline);
        return EMPTY;
      }
    }
    const writes = WRITE.test(sql);
    for (let round = 0;; round++) {
      const tx = stream.tx;
      const restartable = tx === undefined || stream.txFresh;
      if (restartable && writes) await waitForWriters(stream, deadline);
      try {
        const result = await (tx ?? stream.client).execute({ sql, args });
        if (tx === undefined) lockMayBeFree();
        else if (writes) writers.add(stream);
        return result;
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (!restartable) {
          stream.poisoned = true;
          throw error;
        }
        const mode = stream.txMode;
        reconnect(stream, false);
        try {
          if (stopped || Date.now() >= deadline) throw error;
          await waitForLock(deadline, round);
          if (mode !== undefined) await begin(stream, mode, deadline);
        } catch (failure) {
          // The client believes it is in a transaction: it must not go on in autocommit.
          if (mode !== undefined) stream.poisoned = true;
          throw failure;
        }
      } finally {
        if (tx !== undefined && stream.tx === tx) stream.txFresh = false;
        settle(stream);
      }
    }
  };

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
    // The embedded client reports no changes for statements that return rows,
    // so they are read from the connection (functions only: no lock, no retry).
    const returning = DML_RETURNING.test(sql);
    const peek = async (query: string) => (await (stream.tx ?? stream.client).execute(query)).rows[0]!;
    const client = stream.client;
    const before = returning ? (await peek("SELECT total_changes()"))[0] : undefined;
    const result = await run(stream, sql, args);
    let affected = result.rowsAffected;
    let lastRowid = result.lastInsertRowid;
    if (returning && result.columns.length > 0) {
      const after = await peek("SELECT changes(), total_changes(), last_insert_rowid()");
      // A retry on a new connection restarts the count.
      affected = after[1] === (stream.client === client ? before : 0n) ? 0 : Number(after[0]);
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

  const sequence = async (stream: Stream, sql: string) => {
    if (stream.poisoned) {
      throw new HranaError("database is locked; this transaction can only be rolled back", "SQLITE_BUSY");
    }
    const tx = stream.tx;
    try {
      await (tx ?? stream.client).executeMultiple(sql);
      if (tx === undefined) lockMayBeFree();
    } catch (error) {
      // Part of the text may have run, so it is not retried.
      if (isBusy(error)) {
        if (tx === undefined) reconnect(stream, true);
        else stream.poisoned = true;
      }
      throw error;
    } finally {
      stream.txFresh = false;
      settle(stream);
    }
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
          return isAutocommit(stream);
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
      case "sequence":
        await sequence(stream, sqlOf(stream, request.sql, request.sql_id));
        return { type: "sequence" };
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
        return { type: "get_autocommit", is_autocommit: isAutocommit(stream) };
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
      stream = {
        client,
        tx: undefined,
        txMode: undefined,
        txFresh: false,
        poisoned: false,
        sqls: new Map(),
        baton: undefined,
        timer: undefined,
        closed: false,
      };
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
