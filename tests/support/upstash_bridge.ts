/**
 * A local stand-in for Upstash's REST API in front of a real `redis-server`,
 * written from Upstash's REST documentation, so the real `@upstash/redis`
 * client can be tested without the network:
 *
 * - `POST /` with a JSON array `["SET", "k", "v"]` runs one command:
 *   `{"result": …}`, or `{"error": "…"}` with status 400.
 * - `POST /pipeline` with an array of commands: an array of `{result}` or
 *   `{error}`, errors inline, status 200.
 * - `POST /multi-exec`: the same, inside MULTI/EXEC on one connection.
 * - `Authorization: Bearer <token>` is required (401 otherwise).
 * - With `Upstash-Encoding: base64`, every string in a result is the base64
 *   of its bytes; integers stay numbers, nil is `null`, arrays recurse.
 *
 * It counts requests and commands, and can be told to misbehave
 * ({@linkcode BridgeFault}) to test failure handling.
 */
import { type RedisReply, RespConnection } from "./resp.ts";

/** A way for the bridge to fail, for fault-injection tests. */
export type BridgeFault =
  | { kind: "status500"; count?: number }
  | { kind: "hang"; count?: number }
  | { kind: "drop"; count?: number }
  | { kind: "garbage"; count?: number };

/** A running bridge. */
export interface UpstashBridge {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The token clients must send. */
  token: string;
  /** HTTP requests received since start or `resetCounts()`. */
  readonly requests: number;
  /** Redis commands run since start or `resetCounts()`. */
  readonly commands: number;
  /** Zeroes the counters. */
  resetCounts(): void;
  /** When set, requests fail this way (and run nothing) until `count` requests have failed. */
  fault: BridgeFault | null;
  /** Stops the server and closes its Redis connections. */
  stop(): Promise<void>;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Converts a reply to the JSON the REST API returns. */
function toJson(reply: RedisReply, base64: boolean): unknown {
  if (reply === null || typeof reply === "number") return reply;
  if (reply instanceof Uint8Array) return base64 ? toBase64(reply) : new TextDecoder().decode(reply);
  if (Array.isArray(reply)) return reply.map((r) => toJson(r, base64));
  if ("status" in reply) return base64 ? toBase64(new TextEncoder().encode(reply.status)) : reply.status;
  throw new Error("errors are handled by the caller");
}

function entry(reply: RedisReply, base64: boolean): { result: unknown } | { error: string } {
  if (reply !== null && typeof reply === "object" && !Array.isArray(reply) && !(reply instanceof Uint8Array)) {
    if ("error" in reply) return { error: reply.error };
  }
  return { result: toJson(reply, base64) };
}

function isCommand(value: unknown): value is (string | number)[] {
  return Array.isArray(value) && value.length > 0 &&
    value.every((a) => typeof a === "string" || typeof a === "number" || typeof a === "boolean");
}

/** Starts a bridge to the Redis server on `redisPort`. */
export function startUpstashBridge(
  options: { redisPort: number; token?: string },
): Promise<UpstashBridge> {
  const token = options.token ?? crypto.randomUUID();
  const idle: RespConnection[] = [];
  const all = new Set<RespConnection>();
  const hanging = new Set<() => void>();
  let requests = 0;
  let commands = 0;

  const withConnection = async <T>(work: (c: RespConnection) => Promise<T>): Promise<T> => {
    let connection = idle.pop();
    if (!connection) {
      connection = await RespConnection.connect(options.redisPort);
      all.add(connection);
    }
    try {
      const result = await work(connection);
      idle.push(connection);
      return result;
    } catch (error) {
      all.delete(connection);
      connection.close();
      throw error;
    }
  };

  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

  const bridge: UpstashBridge = {
    url: "",
    token,
    get requests() {
      return requests;
    },
    get commands() {
      return commands;
    },
    resetCounts() {
      requests = 0;
      commands = 0;
    },
    fault: null,
    async stop() {
      for (const release of hanging) release();
      await server.shutdown();
      for (const connection of all) connection.close();
    },
  };

  const injectFault = (fault: BridgeFault): Response | Promise<Response> => {
    if (fault.count !== undefined && --fault.count <= 0) bridge.fault = null;
    switch (fault.kind) {
      case "status500":
        return json({ error: "Internal Server Error (injected)" }, 500);
      case "garbage":
        return new Response("<html>this is not JSON", { status: 200 });
      case "drop": {
        const stream = new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"result":"trunc'));
            controller.error(new Error("connection dropped (injected)"));
          },
        });
        return new Response(stream, { status: 200, headers: { "content-type": "application/json" } });
      }
      case "hang":
        return new Promise((resolve) => {
          const release = () => resolve(json({ error: "bridge stopped" }, 503));
          hanging.add(release);
        });
    }
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    requests++;
    if (request.headers.get("authorization") !== `Bearer ${token}`) return json({ error: "Unauthorized" }, 401);
    if (bridge.fault) return injectFault(bridge.fault);
    if (request.method !== "POST") return json({ error: "ERR only POST is supported here" }, 405);
    const base64 = request.headers.get("upstash-encoding")?.toLowerCase() === "base64";
    const path = new URL(request.url).pathname.replace(/\/+$/, "");
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return json({ error: "ERR failed to parse the request body as JSON" }, 400);
    }
    const args = (command: (string | number | boolean)[]) => command.map((a) => String(a));
    try {
      if (path === "") {
        if (!isCommand(body)) return json({ error: "ERR the body must be a JSON array of command arguments" }, 400);
        commands++;
        const reply = await withConnection((c) => c.send(args(body as string[])));
        const result = entry(reply, base64);
        return json(result, "error" in result ? 400 : 200);
      }
      if (path === "/pipeline" || path === "/multi-exec") {
        if (!Array.isArray(body) || !body.every(isCommand)) {
          return json({ error: "ERR the body must be a JSON array of commands" }, 400);
        }
        const list = body as string[][];
        commands += list.length;
        if (path === "/pipeline") {
          const replies = await withConnection((c) => Promise.all(list.map((command) => c.send(args(command)))));
          return json(replies.map((reply) => entry(reply, base64)));
        }
        const replies = await withConnection(async (c) => {
          const queued = [c.send(["MULTI"]), ...list.map((command) => c.send(args(command))), c.send(["EXEC"])];
          return await Promise.all(queued);
        });
        const exec = replies[replies.length - 1]!;
        if (!Array.isArray(exec)) {
          const failed = replies.find((r) => r !== null && typeof r === "object" && "error" in r) ?? exec;
          return json({ error: (failed as { error?: string }).error ?? "ERR transaction aborted" }, 400);
        }
        return json(exec.map((reply) => entry(reply, base64)));
      }
      return json({ error: `ERR unknown endpoint ${path}` }, 404);
    } catch (error) {
      return json({ error: `ERR bridge: ${(error as Error).message}` }, 502);
    }
  });
  bridge.url = `http://127.0.0.1:${server.addr.port}`;
  return Promise.resolve(bridge);
}
