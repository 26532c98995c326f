/**
 * A small RESP2 client (the Redis wire protocol) and a `redis-server`
 * launcher for tests: enough to forward commands and read replies, binary-safe.
 */

/** A reply: bulk strings as bytes, simple strings as `{ status }`, errors as `{ error }` (not thrown). */
export type RedisReply =
  | null
  | number
  | Uint8Array
  | { status: string }
  | { error: string }
  | RedisReply[];

/** One connection; commands may be sent without waiting and replies come back in order. */
export class RespConnection {
  #conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  #waiting: { resolve: (r: RedisReply) => void; reject: (e: Error) => void }[] = [];
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#readLoop();
  }

  /** Connects to `hostname:port`. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RespConnection> {
    return new RespConnection(await Deno.connect({ hostname, port }));
  }

  /** Sends one command and resolves with its reply. */
  send(args: (string | Uint8Array)[]): Promise<RedisReply> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    const encoder = new TextEncoder();
    const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
    for (const arg of args) {
      const bytes = typeof arg === "string" ? encoder.encode(arg) : arg;
      parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, encoder.encode("\r\n"));
    }
    const total = parts.reduce((n, p) => n + p.length, 0);
    const message = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      message.set(part, offset);
      offset += part.length;
    }
    const reply = new Promise<RedisReply>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    this.#write(message).catch((error) => this.#fail(error));
    return reply;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  #fail(error: Error): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(this.#buffer.length + n);
        next.set(this.#buffer);
        next.set(chunk.subarray(0, n), this.#buffer.length);
        this.#buffer = next;
        for (;;) {
          const parsed = parse(this.#buffer, 0);
          if (parsed === undefined) break;
          this.#buffer = this.#buffer.subarray(parsed[1]);
          this.#waiting.shift()?.resolve(parsed[0]);
        }
      }
      this.#fail(new Error("connection closed by the server"));
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Closes the connection; pending replies are rejected. */
  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    }
  }
}

function lineEnd(buffer: Uint8Array, from: number): number {
  for (let i = from; i < buffer.length - 1; i++) if (buffer[i] === 13 && buffer[i + 1] === 10) return i;
  return -1;
}

/** Parses one reply at `offset`: `[reply, next offset]`, or `undefined` when more bytes are needed. */
function parse(buffer: Uint8Array, offset: number): [RedisReply, number] | undefined {
  if (offset >= buffer.length) return undefined;
  const end = lineEnd(buffer, offset);
  if (end < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const line = new TextDecoder().decode(buffer.subarray(offset + 1, end));
  const next = end + 2;
  switch (type) {
    case "+":
      return [{ status: line }, next];
    case "-":
      return [{ error: line }, next];
    case ":":
      return [Number(line), next];
    case "$": {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buffer.length < next + length + 2) return undefined;
      return [buffer.slice(next, next + length), next + length + 2];
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RedisReply[] = [];
      let position = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, position);
        if (item === undefined) return undefined;
        items.push(item[0]);
        position = item[1];
      }
      return [items, position];
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** A running `redis-server`. */
export interface RedisServer {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Stops it. */
  stop(): Promise<void>;
}

/** Whether `redis-server` can be started here. */
export async function redisServerAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("redis-server", { args: ["--version"], stdout: "null" }).output();
    return success;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts a throwaway `redis-server` (no persistence) on a free port and waits until it answers. */
export async function startRedisServer(): Promise<RedisServer> {
  if (!await redisServerAvailable()) {
    throw new Error("redis-server is not installed: apt-get install -y redis-server");
  }
  const port = freePort();
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let attempt = 0;; attempt++) {
    try {
      const connection = await RespConnection.connect(port);
      const pong = await connection.send(["PING"]);
      connection.close();
      if (pong && typeof pong === "object" && "status" in pong) break;
    } catch (error) {
      if (attempt > 100) {
        child.kill();
        await child.status;
        throw new Error(`redis-server did not start on port ${port}`, { cause: error });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // Stop the server even if the test process ends without calling stop().
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  globalThis.addEventListener("unload", kill);
  return {
    port,
    async stop() {
      globalThis.removeEventListener("unload", kill);
      child.kill("SIGTERM");
      await child.status;
    },
  };
}
