/**
 * examples/edge_worker.ts (the edge example as a Cloudflare Worker) in a
 * real edge runtime: workerd through Miniflare, bundled by `deno bundle`,
 * against the Upstash REST bridge (to a real redis-server), the Hrana
 * test server (both on 127.0.0.1) and a D1 binding (Miniflare's local D1). A chat turn persists, the next request
 * resumes it, and so does a request to a new isolate after a restart.
 * Without Miniflare/workerd these tests are skipped, or fail when CI=true.
 */
import assert from "node:assert/strict";
import { redisServerAvailable } from "./support/upstash_bridge.ts";
import { withRedis } from "./support/upstash_stack.ts";
import { startHranaServer } from "./support/hrana_server.ts";
import { tempDir } from "./support/temp.ts";

const CI = Deno.env.get("CI") === "true";
type MiniflareModule = typeof import("miniflare");
const miniflare: MiniflareModule | Error = await import("miniflare").catch((error) => error as Error);
const haveRedis = await redisServerAvailable();

Deno.test({
  name: "edge worker: Miniflare (workerd) is here (required when CI=true)",
  ignore: !CI && miniflare instanceof Error,
  fn() {
    if (miniflare instanceof Error) assert.fail(`npm:miniflare did not load: ${miniflare.message}`);
  },
});

/** Bundles `entry` for the browser platform (a Worker): its code and sizes. */
async function bundle(entry: string): Promise<{ code: string; bytes: number; gzipped: number }> {
  const d = await tempDir("edge-bundle");
  try {
    const out = `${d.path}/worker.js`;
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--minify",
        "-o",
        out,
        new URL(entry, import.meta.url).pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(result.success, new TextDecoder().decode(result.stderr));
    const bytes = await Deno.readFile(out);
    const gzipped = await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))).bytes();
    return { code: new TextDecoder().decode(bytes), bytes: bytes.length, gzipped: gzipped.length };
  } finally {
    await d.remove();
  }
}

/** Where a Worker's state lives besides its string bindings: a D1 database `DB` kept in a directory. */
interface D1Place {
  /** The directory Miniflare keeps D1 databases in (shared by the isolates of one test). */
  persist: string;
}

/** A workerd isolate running `code` with `bindings` (no nodejs_compat: a plain Worker), and `DB` when `d1` is given. */
function worker(mf: MiniflareModule, code: string, bindings: Record<string, string>, d1?: D1Place) {
  return new mf.Miniflare({
    modules: [{ type: "ESModule", path: "worker.js", contents: code }],
    compatibilityDate: "2025-01-01",
    bindings,
    ...(d1 ? { d1Databases: { DB: "edge-chat" }, d1Persist: d1.persist } : {}),
  });
}

const example = miniflare instanceof Error ? null : await bundle("../examples/edge_worker.ts");
if (example) {
  console.log(`edge worker bundle: ${example.bytes} bytes minified, ${example.gzipped} gzipped`);
}

/** Two chat turns on one isolate, a third on a new one, listing and a refused foreign append. */
async function exercise(bindings: Record<string, string>, d1?: D1Place): Promise<void> {
  const mf = miniflare as MiniflareModule;
  const chat = async (instance: ReturnType<typeof worker>, userId: string, message: string) => {
    const response = await instance.dispatchFetch("http://edge.test/chat", {
      method: "POST",
      body: JSON.stringify({ sessionId: "s1", userId, message }),
    });
    return { status: response.status, body: await response.json() as Record<string, unknown> };
  };
  const first = worker(mf, example!.code, bindings, d1);
  try {
    assert.deepEqual(await chat(first, "ada", "hello"), {
      status: 200,
      body: { reply: 'turn 1: you said "hello"', turn: 1, version: 1 },
    });
    assert.deepEqual((await chat(first, "ada", "again")).body, {
      reply: 'turn 2: you said "again"',
      turn: 2,
      version: 2,
    });
  } finally {
    await first.dispose();
  }
  const second = worker(mf, example!.code, bindings, d1);
  try {
    assert.deepEqual((await chat(second, "ada", "still there?")).body, {
      reply: 'turn 3: you said "still there?"',
      turn: 3,
      version: 3,
    }, "a new isolate resumes the chat");
    const list = await (await second.dispatchFetch("http://edge.test/sessions?userId=ada")).json() as {
      sessions: { sessionId: string }[];
    };
    assert.deepEqual(list.sessions.map((s: { sessionId: string }) => s.sessionId), ["s1"]);
    assert.equal((await chat(second, "mallory", "mine now")).status, 403, "another user's append is refused");
  } finally {
    await second.dispose();
  }
}

Deno.test({
  name: "edge worker in workerd keeps a chat in Upstash (through the REST bridge)",
  ignore: example === null || (!haveRedis && !CI),
  async fn() {
    await withRedis((_, bridge) =>
      exercise({ UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token })
    );
  },
});

Deno.test({
  name: "edge worker in workerd keeps a chat in remote libSQL (Hrana over HTTP)",
  ignore: example === null,
  async fn() {
    // A private database file, removed by stop().
    const server = await startHranaServer({ dbUrl: ":memory:", token: "t" });
    try {
      await exercise({ LIBSQL_URL: server.url, LIBSQL_AUTH_TOKEN: "t" });
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "edge worker in workerd keeps a chat in D1 (a DB binding, taken over the other variables)",
  ignore: example === null,
  async fn() {
    const dir = await tempDir("edge-worker-d1");
    try {
      // The libSQL variables point nowhere: the D1 binding must win.
      await exercise({ LIBSQL_URL: "http://127.0.0.1:9/unreachable", LIBSQL_AUTH_TOKEN: "t" }, { persist: dir.path });
      const found = [];
      for await (const entry of Deno.readDir(dir.path)) found.push(entry.name);
      assert.ok(found.length > 0, "nothing was written to the D1 directory");
    } finally {
      await dir.remove();
    }
  },
});

Deno.test({
  name: "edge worker: JsonStorage in workerd throws a StorageError saying where it runs",
  ignore: miniflare instanceof Error,
  async fn() {
    const probe = worker(miniflare as MiniflareModule, (await bundle("./support/edge_json_probe.ts")).code, {});
    try {
      const answer = await (await probe.dispatchFetch("http://edge.test/")).json() as { name: string; message: string };
      assert.equal(answer.name, "StorageError");
      assert.match(answer.message, /^json: .*runs on Deno, Node\.js and Bun, not in browsers or edge Workers/);
    } finally {
      await probe.dispose();
    }
  },
});
