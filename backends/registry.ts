/**
 * The backend registry: one {@linkcode BackendEntry} per backend, naming its
 * URL schemes, the URL forms shown in help, its token variable and a lazy
 * loader. {@linkcode openStorage}, the CLI's help, its token lookup and
 * `migrate` all read {@linkcode BACKENDS}; adding a backend is one entry here.
 *
 * Entries load their module only when a URL of theirs is opened, so opening
 * `memory:` never loads libSQL or Redis code.
 *
 * @module
 */
import { ValidationError } from "../session/errors.ts";
import type { SessionMode } from "../session/types.ts";
import type { LibsqlStorage } from "./libsql.ts";
import type { OpenStorageOptions, StorageOf } from "./open.ts";
import type { PostgresStorage } from "./postgres.ts";

/** Where a backend runs. */
export type Runtime = "deno" | "node" | "bun" | "browser" | "worker";

/** What `migrate` may ask of a backend whose stored layout carries a version number. */
export interface SchemaVersioned {
  /** The layout version this code writes. */
  latest(): Promise<number>;
  /** The layout version `storage` holds now (0 before it was created). */
  current(storage: StorageOf<SessionMode>): Promise<number>;
  /** What the version belongs to, for messages (e.g. a table name). */
  where(storage: StorageOf<SessionMode>): string;
}

/** Optional abilities of a backend, beyond {@linkcode SessionStorage}. */
export interface BackendCapabilities {
  /** The stored layout has a version number that `create()` migrates ("schema-versioned"). */
  schemaVersioned?: SchemaVersioned;
}

/**
 * One backend as the registry knows it.
 *
 * @typeParam T What `load` resolves to (the backend's module).
 */
export interface BackendEntry<T = unknown> {
  /** Short name, as in help and messages. */
  name: string;
  /** URL schemes this backend opens, lower case, without the colon (`":memory:"` is a whole URL). */
  schemes: readonly string[];
  /** URL forms shown in help, e.g. `file:<path.db>`. */
  urlForms: readonly string[];
  /** Environment variable the CLI reads a token from when `--token` is not given. */
  tokenEnv?: string;
  /** A token is required (opening without one is a `ValidationError`). */
  needsToken?: boolean;
  /** Runtimes the backend works in. */
  runtimes: readonly Runtime[];
  /** Why the backend cannot run here, or `undefined` when it can. */
  unavailable?: () => string | undefined;
  /** Loads the backend's module (a dynamic `import()`, so unused backends are never loaded). */
  load: () => Promise<T>;
  /** Builds the storage from the loaded module, the URL and the options. */
  create: <M extends SessionMode>(module: T, url: string, options: OpenStorageOptions<M>) => StorageOf<M>;
  /** Optional abilities. */
  capabilities?: BackendCapabilities;
}

/** A registry entry with its module type erased, as {@linkcode BACKENDS} holds them. */
export interface Backend extends Omit<BackendEntry, "create"> {
  /** Loads the module and builds the storage (no URL or token checks: {@linkcode openStorage} does those). */
  open<M extends SessionMode>(url: string, options: OpenStorageOptions<M>): Promise<StorageOf<M>>;
}

/**
 * Declares a registry entry, checking `create` against what `load` returns.
 *
 * @param entry The backend's entry.
 * @returns The entry with its module type erased, for {@linkcode BACKENDS}.
 */
export function defineBackend<T>(entry: BackendEntry<T>): Backend {
  const { create, ...rest } = entry;
  return { ...rest, open: async (url, options) => create(await entry.load(), url, options) };
}

/** The `ValidationError` for a bad storage URL. */
export function invalidUrl(message: string): ValidationError {
  return new ValidationError([{ path: ["url"], message }]);
}

/** Options of {@linkcode OpenStorageOptions} every backend reads; the rest of `options`. */
function base<M extends SessionMode>(options: OpenStorageOptions<M>) {
  const { token: _token, table: _table, prefix: _prefix, readOnly: _readOnly, ...rest } = options;
  return rest;
}

const SERVER: readonly Runtime[] = ["deno", "node", "bun"];
const EVERYWHERE: readonly Runtime[] = ["deno", "node", "bun", "browser", "worker"];

const loadLibsql = () => import("./libsql.ts");
const libsqlSchema: SchemaVersioned = {
  latest: async () => (await loadLibsql()).LIBSQL_SCHEMA_VERSION,
  current: (storage) => (storage as unknown as LibsqlStorage<SessionMode>).schemaVersion(),
  where: (storage) => (storage as unknown as LibsqlStorage<SessionMode>).table,
};
const libsqlCreate = <M extends SessionMode>(
  { LibsqlStorage }: Awaited<ReturnType<typeof loadLibsql>>,
  url: string,
  options: OpenStorageOptions<M>,
): StorageOf<M> =>
  new LibsqlStorage<M>({
    ...base(options),
    url,
    ...(options.token ? { authToken: options.token } : {}),
    ...(options.table ? { table: options.table } : {}),
    ...(options.readOnly && url.startsWith("file:") ? { readOnly: true } : {}),
  });

const loadPostgres = () => import("./postgres.ts");

/** Every backend `openStorage` knows, in the order help lists them. */
export const BACKENDS: readonly Backend[] = [
  defineBackend({
    name: "memory",
    schemes: ["memory"],
    urlForms: ["memory:"],
    runtimes: EVERYWHERE,
    load: () => import("./memory.ts"),
    create: ({ MemoryStorage }, _url, options) => new MemoryStorage(base(options)),
  }),
  defineBackend({
    name: "libsql",
    schemes: [":memory:", "file"],
    urlForms: [":memory:", "file:<path.db>"],
    runtimes: SERVER,
    load: loadLibsql,
    create: libsqlCreate,
    capabilities: { schemaVersioned: libsqlSchema },
  }),
  defineBackend({
    name: "libsql remote",
    schemes: ["libsql", "http", "https", "ws", "wss"],
    urlForms: ["libsql://<host>", "http(s)://<host>", "ws(s)://<host>"],
    tokenEnv: "LIBSQL_AUTH_TOKEN",
    runtimes: SERVER,
    load: loadLibsql,
    create: libsqlCreate,
    capabilities: { schemaVersioned: libsqlSchema },
  }),
  defineBackend({
    name: "postgres",
    schemes: ["postgres", "postgresql"],
    urlForms: ["postgres://<user>:<password>@<host>/<db>"],
    runtimes: SERVER,
    load: loadPostgres,
    create: ({ PostgresStorage }, url, options) =>
      new PostgresStorage({ ...base(options), url, ...(options.table ? { table: options.table } : {}) }),
    capabilities: {
      schemaVersioned: {
        latest: async () => (await loadPostgres()).POSTGRES_SCHEMA_VERSION,
        current: (storage) => (storage as unknown as PostgresStorage<SessionMode>).schemaVersion(),
        where: (storage) => {
          const postgres = storage as unknown as PostgresStorage<SessionMode>;
          return `${postgres.schema}.${postgres.table}`;
        },
      },
    },
  }),
  defineBackend({
    name: "json",
    schemes: ["json"],
    urlForms: ["json:<dir>"],
    runtimes: SERVER,
    load: () => import("./json.ts"),
    create({ JsonStorage }, url, options) {
      const dir = url.slice("json:".length).replace(/^\/\/(?=\/)/, "");
      if (dir === "") throw invalidUrl('expected a directory after "json:", e.g. "json:./sessions"');
      return new JsonStorage({ ...base(options), dir });
    },
  }),
  defineBackend({
    name: "upstash",
    schemes: ["upstash+https", "upstash+http"],
    urlForms: ["upstash+https://<host>"],
    tokenEnv: "UPSTASH_REDIS_REST_TOKEN",
    needsToken: true,
    runtimes: EVERYWHERE,
    load: () => import("./upstash.ts"),
    create: ({ UpstashRedisStorage }, url, options) =>
      new UpstashRedisStorage({
        ...base(options),
        url: url.slice("upstash+".length),
        token: options.token!,
        ...(options.prefix ? { prefix: options.prefix } : {}),
      }),
  }),
  defineBackend({
    name: "redis",
    schemes: ["redis", "rediss", "valkey"],
    urlForms: ["redis://[:password@]<host>:<port>", "rediss://<host>:<port>", "valkey://<host>:<port>"],
    runtimes: SERVER,
    load: () => import("./redis.ts"),
    create: ({ RedisStorage }, url, options) =>
      new RedisStorage({ ...base(options), url, ...(options.prefix ? { prefix: options.prefix } : {}) }),
  }),
  defineBackend({
    name: "indexeddb",
    schemes: ["indexeddb"],
    urlForms: ["indexeddb:<dbName>"],
    runtimes: ["browser", "worker"],
    unavailable: () =>
      (globalThis as { indexedDB?: unknown }).indexedDB
        ? undefined
        : "indexeddb: URLs work only where IndexedDB exists (a browser); use json: or file: here",
    load: () => import("./indexeddb.ts"),
    create: ({ IndexedDbStorage }, url, options) =>
      new IndexedDbStorage({ ...base(options), dbName: url.slice("indexeddb:".length) || "agentstate" }),
  }),
];

/** The scheme of `url`, lower case (`":memory:"` for that whole URL), or `undefined`. */
export function schemeOf(url: string): string | undefined {
  if (url === ":memory:") return ":memory:";
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
}

/**
 * The registry entry whose schemes include `url`'s, or `undefined`.
 *
 * @param url A storage URL.
 * @param backends The registry to search (default {@linkcode BACKENDS}).
 */
export function findBackend(url: string, backends: readonly Backend[] = BACKENDS): Backend | undefined {
  const scheme = schemeOf(url);
  return scheme === undefined ? undefined : backends.find((b) => b.schemes.includes(scheme));
}

/** Every URL form of `backends` (default {@linkcode BACKENDS}), for help and messages. */
export function urlForms(backends: readonly Backend[] = BACKENDS): string[] {
  return backends.flatMap((b) => b.urlForms);
}
