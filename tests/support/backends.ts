/**
 * One test initializer per backend configuration, shared by the conformance
 * tests and the property tests. Each starts the servers it needs in `setup`
 * and stops them in `teardown`.
 */
import "fake-indexeddb/auto";
import { type Client, createClient } from "@libsql/client";
import { IDBFactory } from "fake-indexeddb";
import { IndexedDbStorage } from "../../backends/indexeddb.ts";
import { JsonStorage } from "../../backends/json.ts";
import { LibsqlStorage } from "../../backends/libsql.ts";
import { MemoryStorage } from "../../backends/memory.ts";
import { PostgresStorage } from "../../backends/postgres.ts";
import { UpstashRedisStorage } from "../../backends/upstash.ts";
import type { StoreTestInitializer } from "../conformance/mod.ts";
import { type HranaServer, startHranaServer } from "./hrana_server.ts";
import { type PostgresServer, skipWithoutPostgres, startPostgresServer } from "./postgres_server.ts";
import { type TempDir, tempDir } from "./temp.ts";
import {
  type RedisServer,
  redisServerAvailable,
  startRedisServer,
  startUpstashBridge,
  type UpstashBridge,
} from "./upstash_bridge.ts";

/** Memory storages cannot share a place: each instance is its own store. */
export function memoryBackend(): StoreTestInitializer {
  return { name: "memory", create: (options) => Promise.resolve(new MemoryStorage(options)) };
}

/** libSQL `:memory:`: one database lives on one connection, so storages of a place share a client. */
export function libsqlMemoryBackend(): StoreTestInitializer {
  const clients = new Map<string, Client>();
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

/** libSQL on a file per place. */
export function libsqlFileBackend(): StoreTestInitializer {
  let dir: TempDir;
  return {
    name: "libsql file",
    async setup() {
      dir = await tempDir("libsql-file");
    },
    create: (options, place) => Promise.resolve(new LibsqlStorage({ ...options, url: `file:${dir.path}/${place}.db` })),
    teardown: () => dir.remove(),
  };
}

/** libSQL over HTTP through the Hrana test server, one server (database) per place. */
export function libsqlRemoteBackend(): StoreTestInitializer {
  let dir: TempDir;
  const servers = new Map<string, Promise<HranaServer>>();
  const token = "test-token";
  return {
    name: "libsql remote (Hrana over HTTP)",
    async setup() {
      dir = await tempDir("libsql-remote");
    },
    async create(options, place) {
      let server = servers.get(place);
      if (!server) {
        server = Deno.writeFile(`${dir.path}/${place}.db`, new Uint8Array())
          .then(() => startHranaServer({ path: `${dir.path}/${place}.db`, token }));
        servers.set(place, server);
      }
      return new LibsqlStorage({ ...options, url: (await server).url, authToken: token });
    },
    async teardown() {
      for (const server of servers.values()) await (await server).stop();
      servers.clear();
      await dir.remove();
    },
  };
}

/** JSON files, a directory per place. */
export function jsonBackend(): StoreTestInitializer {
  let dir: TempDir;
  return {
    name: "json",
    async setup() {
      dir = await tempDir("json");
    },
    create: (options, place) => Promise.resolve(new JsonStorage({ ...options, dir: `${dir.path}/${place}` })),
    teardown: () => dir.remove(),
  };
}

/** Upstash through the REST bridge to a real redis-server, a key prefix per place. */
export function upstashBackend(): StoreTestInitializer {
  let server: RedisServer;
  let bridge: UpstashBridge;
  return {
    name: "upstash",
    async setup() {
      server = await startRedisServer();
      bridge = await startUpstashBridge({ redisPort: server.port });
    },
    create: (options, place) =>
      Promise.resolve(
        new UpstashRedisStorage({ ...options, url: bridge.url, token: bridge.token, retries: 0, prefix: place }),
      ),
    async teardown() {
      await bridge.stop();
      await server.stop();
    },
  };
}

/** IndexedDB from fake-indexeddb, a fresh factory per place. */
export function indexedDbBackend(): StoreTestInitializer {
  const factories = new Map<string, InstanceType<typeof IDBFactory>>();
  return {
    name: "indexeddb (fake-indexeddb)",
    create(options, place) {
      let factory = factories.get(place);
      if (!factory) factories.set(place, factory = new IDBFactory());
      return Promise.resolve(new IndexedDbStorage({ ...options, indexedDB: factory, dbName: "conformance" }));
    },
  };
}

let sharedPostgres: Promise<PostgresServer> | undefined;

/**
 * One throwaway PostgreSQL cluster for the whole test process, started on
 * first use (initdb takes a second, too long to repeat per case) and stopped
 * when the process exits.
 */
export function postgresServer(): Promise<PostgresServer> {
  sharedPostgres ??= startPostgresServer().catch((error) => {
    sharedPostgres = undefined;
    throw error;
  });
  return sharedPostgres;
}

/** PostgreSQL on the shared test cluster, a schema per place. */
export function postgresBackend(): StoreTestInitializer {
  return {
    name: "postgres",
    create: async (options, place) =>
      new PostgresStorage({ ...options, url: (await postgresServer()).url, schema: place, poolSize: 4 }),
  };
}

/** Whether tests needing redis-server should be skipped (missing here, and not in CI where that is a failure). */
export async function skipRedis(): Promise<boolean> {
  const skip = !await redisServerAvailable() && Deno.env.get("CI") !== "true";
  if (skip) console.warn("skipping Upstash tests: redis-server is missing (apt-get install -y redis-server)");
  return skip;
}

/** One backend configuration the suites run on: its initializer and whether it must be skipped here. */
export interface Configuration {
  /** A fresh initializer (each suite gets its own servers and directories). */
  make: () => StoreTestInitializer;
  /** Resolves to `true` when a service it needs is missing (and missing is allowed). */
  skip?: () => Promise<boolean>;
}

/**
 * Every persistent configuration, for suites that run on all of them (the
 * property tests compare each with memory, so memory is not listed).
 */
export const CONFIGURATIONS: readonly Configuration[] = [
  { make: libsqlMemoryBackend },
  { make: libsqlFileBackend },
  { make: libsqlRemoteBackend },
  { make: jsonBackend },
  { make: indexedDbBackend },
  { make: upstashBackend, skip: skipRedis },
  { make: postgresBackend, skip: () => skipWithoutPostgres("PostgreSQL tests") },
];
