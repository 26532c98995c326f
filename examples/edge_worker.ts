/**
 * examples/edge_function.ts as a Cloudflare Worker (module syntax): the same
 * handler, the storage opened per request from the Worker's environment
 * (Upstash Redis over REST, or remote libSQL over HTTP). Nothing is kept in
 * the isolate: a chat resumes on any isolate, after any restart.
 *
 *   deno bundle --platform browser -o worker.js examples/edge_worker.ts
 *   # then deploy worker.js with UPSTASH_REDIS_REST_URL/_TOKEN (or LIBSQL_URL/_AUTH_TOKEN) as secrets
 *
 * tests/edge_worker_test.ts runs it in workerd through Miniflare.
 *
 * @module
 */
import { handle, storageFromEnv } from "./edge_function.ts";

/** The Worker's bindings: the variables storageFromEnv reads. */
export type Env = Record<string, unknown>;

export default {
  /** Opens the storage the bindings name, handles the request, closes the storage. */
  async fetch(request: Request, env: Env): Promise<Response> {
    const storage = await storageFromEnv({ get: (name) => typeof env[name] === "string" ? env[name] : undefined });
    try {
      return await handle(request, storage);
    } finally {
      await storage.close();
    }
  },
};
