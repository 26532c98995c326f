/**
 * An edge function (Deno Deploy style) that keeps a chat session per user in
 * Upstash Redis over REST, or in a remote libSQL database over HTTP: no TCP
 * connection to keep, one HTTP request per storage operation.
 *
 *   UPSTASH_REDIS_REST_URL=… UPSTASH_REDIS_REST_TOKEN=… deno run -A examples/edge_function.ts
 *   LIBSQL_URL=https://… LIBSQL_AUTH_TOKEN=… deno run -A examples/edge_function.ts
 *
 *   POST /chat {"sessionId": "s1", "userId": "ada", "message": "hi"}  → {"reply", "turn", "version"}
 *   GET  /sessions?userId=ada                                          → the user's sessions, newest first
 *
 * @module
 */
import {
  ConflictError,
  openStorage,
  SessionNotFoundError,
  type StorageOf,
  UserMismatchError,
  ValidationError,
} from "../mod.ts";

/** Opens the storage the environment names. */
export function storageFromEnv(env: { get(name: string): string | undefined }): Promise<StorageOf<"agent">> {
  const upstash = env.get("UPSTASH_REDIS_REST_URL");
  if (upstash) return openStorage(`upstash+${upstash}`, { token: env.get("UPSTASH_REDIS_REST_TOKEN") ?? "" });
  const libsql = env.get("LIBSQL_URL");
  if (libsql) return openStorage(libsql, { token: env.get("LIBSQL_AUTH_TOKEN") ?? "" });
  throw new Error("set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or LIBSQL_URL and LIBSQL_AUTH_TOKEN");
}

/** How often a chat turn reads again after losing to a concurrent one. */
const MAX_ATTEMPTS = 20;

/** Handles one request with `storage`. */
export async function handle(request: Request, storage: StorageOf<"agent">): Promise<Response> {
  const url = new URL(request.url);
  try {
    if (request.method === "POST" && url.pathname === "/chat") {
      const body = await request.json().catch(() => null) as Record<string, unknown> | null;
      const { sessionId, userId, message } = body ?? {};
      if (typeof sessionId !== "string" || typeof userId !== "string" || typeof message !== "string" || !message) {
        return Response.json({ error: "expected a JSON body { sessionId, userId, message }" }, { status: 400 });
      }
      // The reply names its turn, so the turn is numbered at the version read and written only at that version:
      // of concurrent requests each gets its own turn (the losers read again). One write creates the session too.
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const session = await storage.read(sessionId, userId);
        const { runs } = session ? await storage.getRuns(sessionId, { userId, last: 1 }) : { runs: [] };
        const turn = (runs[0]?.seq ?? 0) + 1;
        const reply = `turn ${turn}: you said ${JSON.stringify(message)}`;
        try {
          const { version } = await storage.appendRuns(sessionId, [{ message, reply }], {
            userId,
            create: true,
            expectedVersion: session?.version ?? 0,
            patch: { agentId: "edge-bot" },
          });
          return Response.json({ reply, turn, version });
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
        }
      }
      return Response.json({ error: "too many concurrent writers, try again" }, { status: 409 });
    }
    if (request.method === "GET" && url.pathname === "/sessions") {
      const userId = url.searchParams.get("userId");
      if (!userId) return Response.json({ error: "userId is required" }, { status: 400 });
      return Response.json(await storage.listSessions({ userId, sortBy: "updatedAt" }));
    }
    return Response.json({ error: "not found" }, { status: 404 });
  } catch (error) {
    if (error instanceof ValidationError || error instanceof SessionNotFoundError) {
      return Response.json({ error: error.message }, { status: 400 });
    }
    if (error instanceof ConflictError) return Response.json({ error: error.message }, { status: 409 });
    if (error instanceof UserMismatchError) return Response.json({ error: "not your session" }, { status: 403 });
    throw error;
  }
}

if (import.meta.main) {
  const storage = await storageFromEnv(Deno.env);
  const port = Number(Deno.env.get("PORT") ?? 8000);
  Deno.serve({ port, hostname: "127.0.0.1" }, (request) => handle(request, storage));
}
