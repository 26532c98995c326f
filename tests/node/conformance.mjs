/**
 * Runs the library's own conformance suite (`@agentstate/storage/testing`),
 * imported from the BUILT package, on this runtime (Node or Bun): memory,
 * libSQL `:memory:`, libSQL on a file in a temp directory, JSON files, and,
 * when AGENTSTATE_SERVICES holds what tests/node/services.ts printed, libSQL
 * over HTTP (Hrana test server) and Upstash (REST bridge to redis-server).
 * Prints one line per failure and ends with `N passed, N failed, N expected
 * to fail`; exits non-zero when anything failed. Run it from a project that
 * has the packed package installed (see run.sh).
 *
 * Usage: node conformance.mjs [suite ...]   (default: every suite)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { JsonStorage, LibsqlStorage, MemoryStorage, UpstashRedisStorage } from "@agentstate/storage";
import * as testing from "@agentstate/storage/testing";
import { EXPECTED_TO_FAIL } from "./expected.mjs";

const CASE_TIMEOUT_MS = 60_000;

/** A temp directory made in setup and removed in teardown. */
function tempDirBackend(name, create) {
  let dir = null;
  return {
    name,
    async setup() {
      dir ??= await mkdtemp(join(tmpdir(), `agentstate-${name.replace(/\W+/g, "-")}-`));
    },
    create: (options, place) => Promise.resolve(create(options, join(dir, place))),
    async teardown() {
      if (dir) await rm(dir, { recursive: true, force: true });
      dir = null;
    },
  };
}

function libsqlMemory() {
  const clients = new Map();
  return {
    name: "libsql :memory:",
    create(options, place) {
      let client = clients.get(place);
      if (!client) clients.set(place, client = createClient({ url: ":memory:" }));
      return Promise.resolve(new LibsqlStorage({ ...options, client }));
    },
    teardown() {
      for (const client of clients.values()) client.close();
      clients.clear();
      return Promise.resolve();
    },
  };
}

const SUITES = {
  memory: () => ({ name: "memory", create: (options) => Promise.resolve(new MemoryStorage(options)) }),
  "libsql-memory": libsqlMemory,
  "libsql-file": () =>
    tempDirBackend("libsql file", (options, path) => new LibsqlStorage({ ...options, url: `file:${path}.db` })),
  json: () => tempDirBackend("json", (options, path) => new JsonStorage({ ...options, dir: path })),
};

/** The servers tests/node/services.ts runs (under Deno), when given. */
const services = process.env.AGENTSTATE_SERVICES ? JSON.parse(process.env.AGENTSTATE_SERVICES) : null;
if (services) {
  SUITES["libsql-remote"] = () => ({
    name: "libsql remote (Hrana over HTTP)",
    async create(options, place) {
      const response = await fetch(`${services.hrana}/${place}`);
      if (!response.ok) throw new Error(`services: ${response.status} ${await response.text()}`);
      return new LibsqlStorage({ ...options, url: await response.text(), authToken: services.hranaToken });
    },
    async teardown() {
      await (await fetch(services.hrana, { method: "DELETE" })).text();
    },
  });
  SUITES.upstash = () => ({
    name: "upstash",
    create: (options, place) =>
      Promise.resolve(
        new UpstashRedisStorage({ ...options, ...services.upstash, retries: 0, prefix: place }),
      ),
  });
}

/**
 * The suite's cases as `{ name, fn }`: from `conformanceCases` (runner-neutral
 * API) when the package has it, else by giving `runConformance` a stand-in
 * `Deno.test` that only collects (removed again before any case runs).
 */
function casesOf(init) {
  if (typeof testing.conformanceCases === "function") return testing.conformanceCases(init);
  const collected = [];
  const had = "Deno" in globalThis;
  if (had) throw new Error("a global Deno exists: this runner is for Node and Bun");
  globalThis.Deno = { test: (definition) => collected.push(definition) };
  try {
    testing.runConformance(init);
  } finally {
    delete globalThis.Deno;
  }
  return collected.filter((c) => !c.ignore).map((c) => ({ name: c.name, fn: () => c.fn({}) }));
}

function withTimeout(promise, name) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: timed out after ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const runtime = typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`;
const wanted = process.argv.slice(2);
for (const name of wanted) if (!(name in SUITES)) throw new Error(`unknown suite ${name}`);
let passed = 0, failed = 0, expected = 0;
for (const [suite, make] of Object.entries(SUITES)) {
  if (wanted.length > 0 && !wanted.includes(suite)) continue;
  const started = performance.now();
  const failures = [];
  let ok = 0;
  for (const c of casesOf(make())) {
    try {
      await withTimeout(c.fn(), c.name);
      ok++;
    } catch (error) {
      failures.push(`${c.name}: ${error?.message ?? error}`.split("\n")[0]);
    }
  }
  const ms = Math.round(performance.now() - started);
  const reason = EXPECTED_TO_FAIL[suite];
  if (reason && failures.length > 0) {
    expected++;
    console.log(`${suite}: expected to fail (${failures.length} of ${ok + failures.length} cases failed): ${reason}`);
    console.log(`  first failure: ${failures[0]}`);
  } else if (reason) {
    failed++;
    console.log(`${suite}: passed all ${ok} cases but is listed in tests/node/expected.mjs: remove it there`);
  } else {
    passed += ok;
    failed += failures.length;
    for (const line of failures) console.log(`FAILED ${line}`);
    console.log(`${suite}: ${ok} passed, ${failures.length} failed (${ms} ms)`);
  }
}
console.log(`${runtime}: conformance on the built package`);
console.log(`${passed} passed, ${failed} failed, ${expected} expected to fail`);
process.exitCode = failed > 0 ? 1 : 0;
