/**
 * examples/edge_function.ts as a Cloudflare Worker (module syntax): the same
 * handler, the storage opened per request from the Worker's environment: a
 * D1 database bound as `DB`, else Upstash Redis over REST or remote libSQL
 * over HTTP. Nothing is kept in the isolate: a chat resumes on any isolate,
 * after any restart.
 *
 *   deno bundle --platform browser -o worker.js examples/edge_worker.ts
 *   # then deploy worker.js with a D1 binding named DB, or with UPSTASH_REDIS_REST_URL/_TOKEN
 *   # (or LIBSQL_URL/_AUTH_TOKEN) as secrets
 *
 * tests/edge_worker_test.ts runs it in workerd through Miniflare.
 *
 * @module
 */
import { type D1DatabaseLike, D1Storage } from "../backends/d1.ts";
import type { StorageOf } from "../mod.ts";
import { handle, storageFromEnv } from "./edge_function.ts";

/** The Worker's bindings: `DB` (a D1 database) or the variables storageFromEnv reads. */
export type Env = Record<string, unknown>;

/** Whether `value` looks like a D1 binding (`prepare` and `batch`). */
function isD1(value: unknown): value is D1DatabaseLike {
  const candidate = value as Partial<D1DatabaseLike> | null;
  return typeof candidate?.prepare === "function" && typeof candidate.batch === "function";
}

/** The storage the bindings name: D1 when `DB` is bound, else what storageFromEnv finds. */
function storageFor(env: Env): Promise<StorageOf<"agent">> {
  if (isD1(env.DB)) return Promise.resolve(new D1Storage({ mode: "agent", database: env.DB }));
  return storageFromEnv({ get: (name) => typeof env[name] === "string" ? env[name] : undefined });
}

export default {
  /** Opens the storage the bindings name, handles the request, closes the storage. */
  async fetch(request: Request, env: Env): Promise<Response> {
    const storage = await storageFor(env);
    try {
      return await handle(request, storage);
    } finally {
      await storage.close();
    }
  },
};
