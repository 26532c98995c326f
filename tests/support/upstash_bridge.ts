/**
 * A local stand-in for Upstash's Redis REST API in front of a real
 * `redis-server`, written from Upstash's REST documentation, so the real
 * `@upstash/redis` client can be tested without the network.
 *
 * The module has three parts:
 *
 * - {@linkcode startRedisServer}: a throwaway `redis-server` child process
 *   (no persistence) on a free loopback port.
 * - {@linkcode RespConnection}: a minimal, binary-safe RESP2 client.
 * - {@linkcode startUpstashBridge}: the REST API itself.
 *
 * What the bridge speaks:
 *
 * - `POST /` with a JSON array `["SET", "k", "v"]` runs one command and answers
 *   `{"result": …}`, or `{"error": "ERR …"}` with status 400. Arguments may be
 *   strings, numbers or booleans (sent as their decimal / `true` / `false` text).
 * - `POST /pipeline` with an array of commands answers an array of `{result}`
 *   or `{error}` in order, errors inline, status 200. Other clients' commands
 *   may interleave (as the service says).
 * - `POST /multi-exec` runs the commands inside MULTI/EXEC on one connection,
 *   answering like `/pipeline`. A command refused while queueing discards the
 *   whole transaction: `{"error": "EXECABORT …"}` with status 400.
 * - The path form: `GET /get/k`, `GET /set/k/v`, or `POST /set/k` whose raw
 *   body bytes are the last argument. Segments are URL-decoded.
 * - `Authorization: Bearer <token>` (or the `_token` query parameter) is
 *   required: 401 `{"error": "Unauthorized"}` otherwise.
 * - `Upstash-Encoding: base64`: every string in a result (bulk or simple) is
 *   the base64 of its bytes; integers stay numbers, nil is `null`, arrays
 *   recurse. A whole result that is the status `OK` stays `"OK"` (the client
 *   passes a top-level `"OK"` through undecoded, and decodes every string in
 *   an array). Without the header, strings are UTF-8 text.
 * - Connection-state commands (MULTI, EXEC, WATCH, SELECT, SUBSCRIBE, HELLO, …)
 *   are refused, as they are over REST, so pooled connections stay clean.
 *
 * The bridge counts requests and commands, and can be told to misbehave
 * ({@linkcode BridgeFault}) to test failure handling.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// RESP2 client

/** A Redis error reply, as a value (never thrown by {@linkcode RespConnection.send}). */
export interface RespError {
  /** The whole error line, e.g. `ERR unknown command 'NOPE'`. */
  error: string;
}

/**
 * A RESP2 reply: simple strings as `string`, bulk strings as bytes, integers as
 * `number` (`bigint` beyond 2^53), nil bulk strings and nil arrays as `null`,
 * errors as {@linkcode RespError}, arrays nested.
 */
export type RespValue = null | string | number | bigint | Uint8Array | RespError | RespValue[];

/** Whether a reply is an error reply. */
export function isRespError(value: RespValue): value is RespError {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array);
}

const encoder = new TextEncoder();
const CR = 13;
const LF = 10;

/** Encodes one command as a RESP array of bulk strings. */
function encodeCommand(args: (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? encoder.encode(arg) : arg;
    parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, encoder.encode("\r\n"));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The text of a header line (`+`, `-`, `:`, `$`, `*`): ASCII, but errors may carry UTF-8. */
function lineText(buffer: Uint8Array, from: number, to: number): string {
  return new TextDecoder().decode(buffer.subarray(from, to));
}

/**
 * Parses one reply in `buffer[offset, end)`: `[reply, next offset]`, or
 * `undefined` when more bytes are needed. Throws on a malformed stream.
 */
function parseReply(buffer: Uint8Array, offset: number, end: number): [RespValue, number] | undefined {
  if (offset >= end) return undefined;
  let eol = -1;
  for (let i = offset + 1; i < end - 1; i++) {
    if (buffer[i] === CR && buffer[i + 1] === LF) {
      eol = i;
      break;
    }
  }
  if (eol < 0) return undefined;
  const type = buffer[offset]!;
  const line = lineText(buffer, offset + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [{ error: line }, next];
    case 0x3a: // :
      return [parseInteger(line), next];
    case 0x24: { // $
      const length = Number(line);
      if (!Number.isInteger(length)) throw new Error(`bad RESP bulk length ${JSON.stringify(line)}`);
      if (length < 0) return [null, next];
      if (end < next + length + 2) return undefined;
      return [buffer.slice(next, next + length), next + length + 2];
    }
    case 0x2a: { // *
      const count = Number(line);
      if (!Number.isInteger(count)) throw new Error(`bad RESP array length ${JSON.stringify(line)}`);
      if (count < 0) return [null, next];
      const items: RespValue[] = [];
      let position = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, position, end);
        if (item === undefined) return undefined;
        items.push(item[0]);
        position = item[1];
      }
      return [items, position];
    }
    default:
      throw new Error(`unexpected RESP type byte ${type}`);
  }
}

function parseInteger(line: string): number | bigint {
  if (!/^-?\d+$/.test(line)) throw new Error(`bad RESP integer ${JSON.stringify(line)}`);
  const value = Number(line);
  return Number.isSafeInteger(value) ? value : BigInt(line);
}

/**
 * One RESP2 connection to Redis. Commands may be sent without waiting for
 * earlier replies (pipelining); replies resolve in order. Binary-safe both
 * ways: arguments may be bytes, bulk replies are bytes.
 */
export class RespConnection {
  #conn: Deno.TcpConn;
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #waiting: { resolve: (reply: RespValue) => void; reject: (error: Error) => void }[] = [];
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #failure: Error | undefined;
  #reading: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reading = this.#readLoop();
  }

  /** Connects to Redis at `hostname:port` (default host 127.0.0.1). */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RespConnection> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return new RespConnection(conn);
  }

  /** Whether the connection is closed (by {@linkcode close}, the server, or a protocol error). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one command; resolves with its reply (an error reply resolves as
   * `{ error }`). Rejects only if the connection fails or closes first.
   */
  send(args: (string | Uint8Array)[]): Promise<RespValue> {
    if (this.#closed) return Promise.reject(this.#failure ?? new Error("RESP connection is closed"));
    const message = encodeCommand(args);
    const reply = new Promise<RespValue>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    // Writes are chained so that one command's bytes never interleave with another's.
    this.#writing = this.#writing.then(async () => {
      if (this.#closed) return;
      try {
        let written = 0;
        while (written < message.length) written += await this.#conn.write(message.subarray(written));
      } catch (error) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
    return reply;
  }

  /** Closes the connection; replies still pending are rejected. Resolves when reading has stopped. */
  async close(): Promise<void> {
    this.#fail(new Error("RESP connection is closed"));
    await this.#reading;
    await this.#writing;
  }

  #fail(error: Error): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#failure = error;
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    }
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        this.#makeRoom();
        const n = await this.#conn.read(this.#buffer.subarray(this.#end));
        if (n === null) {
          this.#fail(new Error("Redis closed the connection"));
          return;
        }
        this.#end += n;
        for (;;) {
          const parsed = parseReply(this.#buffer, this.#start, this.#end);
          if (parsed === undefined) break;
          this.#start = parsed[1];
          const waiter = this.#waiting.shift();
          if (!waiter) throw new Error("Redis sent a reply nobody asked for");
          waiter.resolve(parsed[0]);
        }
        if (this.#start === this.#end) this.#start = this.#end = 0;
      }
    } catch (error) {
      // A read interrupted by close() lands here too; #fail is then a no-op for the socket.
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Ensures at least 16 KiB free after `#end`, compacting or growing the buffer. */
  #makeRoom(): void {
    const want = 16 * 1024;
    if (this.#buffer.length - this.#end >= want) return;
    const used = this.#end - this.#start;
    if (this.#buffer.length - used >= want) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    } else {
      const next = new Uint8Array(Math.max(this.#buffer.length * 2, used + want));
      next.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = next;
    }
    this.#start = 0;
    this.#end = used;
  }
}

// ---------------------------------------------------------------------------
// redis-server

/** A running `redis-server` child process. */
export interface RedisServer {
  /** The port it listens on. */
  port: number;
  /** The address it listens on: `127.0.0.1`. */
  hostname: string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
}

const INSTALL_HINT = "redis-server is not installed: run `apt-get install -y redis-server`";

/** Whether a `redis-server` binary can be run here. */
export async function redisServerAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("redis-server", {
      args: ["--version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** A port that was free a moment ago on 127.0.0.1 (listen on port 0, then close). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Reads a stream to its end, keeping the last 8 KiB as text (the server's log, for error messages). */
async function tail(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) text = (text + decoder.decode(chunk, { stream: true })).slice(-8192);
  return text;
}

/**
 * Starts a throwaway `redis-server` on 127.0.0.1 (no RDB snapshots, no AOF)
 * and resolves once it answers PING. Without `port`, a free port is picked
 * (retrying if another process grabs it first). `args` are more
 * command-line options (e.g. `["--cluster-enabled", "yes"]`). Throws, with
 * how to install it, if `redis-server` is missing.
 */
export async function startRedisServer(options: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await launchRedis(options.port ?? freePort(), options.args ?? []);
    } catch (error) {
      if (error instanceof Error && error.message === INSTALL_HINT) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

async function launchRedis(port: number, extra: string[]): Promise<RedisServer> {
  const hostname = "127.0.0.1";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        hostname,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        ...extra,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(INSTALL_HINT);
    throw error;
  }
  const logs = Promise.all([tail(child.stdout), tail(child.stderr)]).then((parts) => parts.join("\n").trim());
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  // If the test process ends without stop(), do not leave the server behind.
  globalThis.addEventListener("unload", kill);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    stopping ??= (async () => {
      globalThis.removeEventListener("unload", kill);
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const forced = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            kill();
            resolve();
          }, 5000);
        });
        await Promise.race([status, forced]);
        clearTimeout(timer);
      }
      await status;
      await logs;
    })();

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`redis-server exited before accepting connections on port ${port}:\n${await logs}`);
    }
    try {
      const connection = await RespConnection.connect(port, hostname);
      try {
        // PING, and make sure the one answering is our child, not another process on that port.
        const [pong, info] = await Promise.all([connection.send(["PING"]), connection.send(["INFO", "server"])]);
        const pid = info instanceof Uint8Array
          ? /process_id:(\d+)/.exec(new TextDecoder().decode(info))?.[1]
          : undefined;
        if (pong === "PONG" && pid === String(child.pid)) break;
        if (pong === "PONG" && pid !== undefined) {
          throw new Error(`port ${port} is served by another process (pid ${pid})`);
        }
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server did not answer PING on port ${port}`, { cause: error });
      }
    }
    await delay(20);
  }
  return { port, hostname, stop };
}

// ---------------------------------------------------------------------------
// The REST bridge

/**
 * A way for the bridge to fail. A faulted request is counted but never reaches
 * Redis. `count` is how many requests fail before the fault clears itself
 * (default: until `fault` is set to `null`).
 *
 * - `status500`: 500 with `{"error": "Internal Server Error"}`.
 * - `hang`: no answer; the client must time out. `stop()` cuts such requests off.
 * - `drop`: 200 headers and a few bytes of body, then the connection is cut.
 * - `garbage`: 200 with a body that is not JSON.
 */
export type BridgeFault =
  & ({ kind: "status500" } | { kind: "hang" } | { kind: "drop" } | { kind: "garbage" })
  & { count?: number };

/** A running bridge. */
export interface UpstashBridge {
  /** `http://127.0.0.1:<port>`: the REST URL to give the client. */
  readonly url: string;
  /** The bearer token clients must send. */
  readonly token: string;
  /** HTTP requests received (authorized or not, faulted or not) since start or {@linkcode resetCounts}. */
  readonly requests: number;
  /** Redis commands run (MULTI/EXEC wrappers not counted) since start or {@linkcode resetCounts}. */
  readonly commands: number;
  /** The largest request body (bytes) received since start or {@linkcode resetCounts}. */
  readonly largestRequest: number;
  /** Zeroes the counters. */
  resetCounts(): void;
  /** When set, requests fail this way (see {@linkcode BridgeFault}); clears itself after `count` requests. */
  fault: BridgeFault | null;
  /** Answers hanging requests by cutting them off, stops the HTTP server and closes its Redis connections. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startUpstashBridge}. */
export interface UpstashBridgeOptions {
  /** The port of the Redis server to forward to. */
  redisPort: number;
  /** Its host (default 127.0.0.1). */
  redisHostname?: string;
  /** The bearer token to require (default: a random UUID). */
  token?: string;
}

/** Commands that would change a pooled connection's state or break request/reply pairing. */
const REFUSED = new Set([
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  "SELECT",
  "SWAPDB",
  "AUTH",
  "HELLO",
  "RESET",
  "QUIT",
  "MONITOR",
  "SYNC",
  "PSYNC",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
]);

function refusal(args: (string | Uint8Array)[]): RespError | undefined {
  const name = argText(args[0]).toUpperCase();
  const sub = args.length > 1 ? argText(args[1]).toUpperCase() : "";
  if (REFUSED.has(name) || (name === "CLIENT" && sub === "REPLY")) {
    return { error: `ERR Command is not available over the REST bridge: ${name}` };
  }
  return undefined;
}

function argText(arg: string | Uint8Array | undefined): string {
  return arg === undefined ? "" : typeof arg === "string" ? arg : new TextDecoder().decode(arg);
}

/** A JSON command (strings, finite numbers, booleans) as Redis arguments, or an error message. */
function toArgs(value: unknown): string[] | string {
  if (!Array.isArray(value) || value.length === 0) return "ERR a command must be a non-empty JSON array";
  const args: string[] = [];
  for (const arg of value) {
    if (typeof arg === "string") args.push(arg);
    else if (typeof arg === "number" && Number.isFinite(arg)) args.push(String(arg));
    else if (typeof arg === "boolean") args.push(String(arg));
    else return `ERR command arguments must be strings or numbers, got ${JSON.stringify(arg)}`;
  }
  return args;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** A reply (not an error at the top) as the JSON the REST API returns. */
function toJson(reply: RespValue, encode: boolean, top: boolean): unknown {
  if (reply === null || typeof reply === "number") return reply;
  if (typeof reply === "bigint") return rawJSON(reply.toString());
  if (typeof reply === "string") return encode && !(top && reply === "OK") ? base64(encoder.encode(reply)) : reply;
  if (reply instanceof Uint8Array) return encode ? base64(reply) : new TextDecoder().decode(reply);
  if (Array.isArray(reply)) return reply.map((item) => toJson(item, encode, false));
  // An error nested in an array (a Lua table holding an error reply): its text.
  return toJson(reply.error, encode, false);
}

function entry(reply: RespValue, encode: boolean): { result: unknown } | { error: string } {
  return isRespError(reply) ? { error: reply.error } : { result: toJson(reply, encode, true) };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** A 200 response that promises more bytes than it sends: the client sees the connection cut mid-body. */
function cutOff(): Response {
  const prefix = encoder.encode('{"result":"trunc');
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(prefix);
      controller.close();
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/json", "content-length": String(prefix.length + 100) },
  });
}

class BadRequest extends Error {}

/** Starts the REST bridge on 127.0.0.1 (a free port), forwarding to the Redis server at `redisPort`. */
export function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const token = options.token ?? crypto.randomUUID();
  const redisHostname = options.redisHostname ?? "127.0.0.1";
  const idle: RespConnection[] = [];
  const open = new Set<RespConnection>();
  const hanging = new Set<() => void>();
  let requests = 0;
  let commands = 0;
  let largestRequest = 0;
  let fault: BridgeFault | null = null;
  let faultsLeft = Infinity;
  let stopped = false;

  /** Runs `work` on a connection of its own (from the pool), so requests never interleave on one socket. */
  const withConnection = async <T>(work: (connection: RespConnection) => Promise<T>): Promise<T> => {
    let connection = idle.pop();
    while (connection?.closed) connection = idle.pop();
    if (!connection) {
      connection = await RespConnection.connect(options.redisPort, redisHostname);
      open.add(connection);
    }
    try {
      return await work(connection);
    } finally {
      if (!connection.closed && !stopped && idle.length < 8) idle.push(connection);
      else {
        open.delete(connection);
        await connection.close();
      }
    }
  };

  const takeFault = (): BridgeFault | null => {
    const current = fault;
    if (current && --faultsLeft <= 0) fault = null;
    return current;
  };

  const faultResponse = (current: BridgeFault): Response | Promise<Response> => {
    switch (current.kind) {
      case "status500":
        return json({ error: "Internal Server Error" }, 500);
      case "garbage":
        return new Response("<html><body>502 Bad Gateway: this is not JSON", {
          status: 200,
          headers: { "content-type": "text/html" },
        });
      case "drop":
        return cutOff();
      case "hang":
        // Held until stop(), which cuts it off. (Not released on the client's abort: watching
        // request.signal makes Deno.serve print a deprecation notice; stop() is always called.)
        return new Promise<Response>((resolve) => {
          hanging.add(() => resolve(cutOff()));
        });
    }
  };

  const authorized = (request: Request, url: URL): boolean => {
    const header = request.headers.get("authorization");
    if (header !== null) return header === `Bearer ${token}`;
    return url.searchParams.get("_token") === token;
  };

  const readJson = async (request: Request): Promise<unknown> => {
    try {
      const body = await request.arrayBuffer();
      largestRequest = Math.max(largestRequest, body.byteLength);
      return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      throw new BadRequest("ERR failed to parse the request body as JSON");
    }
  };

  const single = async (args: (string | Uint8Array)[], encode: boolean): Promise<Response> => {
    const refused = refusal(args);
    const reply = refused ?? await withConnection((c) => {
      commands++;
      return c.send(args);
    });
    const result = entry(reply, encode);
    return json(result, "error" in result ? 400 : 200);
  };

  const pipeline = async (list: string[][], encode: boolean): Promise<Response> => {
    const replies = await withConnection((c) =>
      Promise.all(list.map((args) => {
        const refused = refusal(args);
        if (refused) return refused;
        commands++;
        return c.send(args);
      }))
    );
    return json(replies.map((reply) => entry(reply, encode)));
  };

  const multiExec = async (list: string[][], encode: boolean): Promise<Response> => {
    const refused = list.map(refusal).find((r) => r !== undefined);
    if (refused) {
      return json({ error: `EXECABORT Transaction discarded because of previous errors: ${refused.error}` }, 400);
    }
    const replies = await withConnection((c) => {
      commands += list.length;
      return Promise.all([c.send(["MULTI"]), ...list.map((args) => c.send(args)), c.send(["EXEC"])]);
    });
    const exec = replies[replies.length - 1]!;
    if (Array.isArray(exec)) return json(exec.map((reply) => entry(reply, encode)));
    const queued = replies.slice(1, -1).find(isRespError);
    const message = isRespError(exec) ? exec.error : "EXECABORT Transaction aborted";
    return json({ error: queued ? `${message} ${queued.error}` : message }, 400);
  };

  const handle = async (request: Request): Promise<Response> => {
    requests++;
    const current = takeFault();
    if (current) return faultResponse(current);
    const url = new URL(request.url);
    if (!authorized(request, url)) return json({ error: "Unauthorized" }, 401);
    const encode = request.headers.get("upstash-encoding")?.trim().toLowerCase() === "base64";
    const path = url.pathname.replace(/\/+$/, "");

    if (path === "" || path === "/pipeline" || path === "/multi-exec") {
      if (request.method !== "POST") return json({ error: "ERR use POST with a JSON body here" }, 405);
      const body = await readJson(request);
      if (path === "") {
        const args = toArgs(body);
        if (typeof args === "string") throw new BadRequest(args);
        return single(args, encode);
      }
      if (!Array.isArray(body) || body.length === 0) {
        throw new BadRequest("ERR the body must be a JSON array of commands");
      }
      const list = body.map((command) => {
        const args = toArgs(command);
        if (typeof args === "string") throw new BadRequest(args);
        return args;
      });
      return path === "/pipeline" ? pipeline(list, encode) : multiExec(list, encode);
    }

    // The path form: /COMMAND/arg1/arg2…, a POST body being one more argument.
    if (request.method !== "GET" && request.method !== "POST") {
      return json({ error: `ERR method ${request.method} is not supported` }, 405);
    }
    let args: (string | Uint8Array)[];
    try {
      args = path.slice(1).split("/").map(decodeURIComponent);
    } catch {
      throw new BadRequest("ERR malformed URL encoding in the path");
    }
    if (request.method === "POST") {
      const bytes = new Uint8Array(await request.arrayBuffer());
      if (bytes.length > 0) args.push(bytes);
    }
    return single(args, encode);
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    try {
      return await handle(request);
    } catch (error) {
      if (error instanceof BadRequest) return json({ error: error.message }, 400);
      return json({ error: `ERR bridge failure: ${error instanceof Error ? error.message : String(error)}` }, 500);
    }
  });

  let stopping: Promise<void> | undefined;
  const bridge: UpstashBridge = {
    url: `http://127.0.0.1:${server.addr.port}`,
    token,
    get requests() {
      return requests;
    },
    get commands() {
      return commands;
    },
    get largestRequest() {
      return largestRequest;
    },
    resetCounts() {
      requests = 0;
      commands = 0;
      largestRequest = 0;
    },
    get fault() {
      return fault;
    },
    set fault(value: BridgeFault | null) {
      fault = value;
      faultsLeft = value?.count ?? Infinity;
    },
    stop() {
      return stopping ??= (async () => {
        stopped = true;
        for (const release of hanging) release();
        hanging.clear();
        await server.shutdown();
        await Promise.all([...open].map((connection) => connection.close()));
        open.clear();
        idle.length = 0;
      })();
    },
  };
  return Promise.resolve(bridge);
}
