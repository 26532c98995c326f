/**
 * Model-based property tests: random sequences of operations run on a
 * backend and on `MemoryStorage` (the model) side by side, with the same
 * clock; every result (value or error class) must be the same.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStorage } from "../backends/memory.ts";
import type { JsonObject } from "../session/types.ts";
import { ConflictError, ValidationError } from "../session/errors.ts";
import type { AnyStorage, StoreTestInitializer } from "./conformance/mod.ts";

const IDS = ["a", "b", "A", "a/b", "..", "*", "%", "é", "😀", "\uE000", "x y"];
const USERS = [null, "u1", "u2"];
const ENTITIES = [null, "e1", "e2"];
const NAMES = [null, "n1", "n2"];

const id = fc.constantFrom(...IDS);
const user = fc.constantFrom(...USERS);
const maybeUser = fc.option(fc.constantFrom("u1", "u2"), { nil: undefined });
const json = fc.dictionary(fc.constantFrom("k", "list", "é"), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 })
  .map((v) => JSON.parse(JSON.stringify(v)));
const version = fc.constantFrom("none", "right", "wrong", "zero") as fc.Arbitrary<Expectation>;
const runKey = fc.constantFrom("k1", "k2", "k3");
const runAt = fc.oneof(fc.record({ seq: fc.integer({ min: 1, max: 5 }) }), fc.record({ key: runKey }));
const editVersion = fc.constantFrom("none", "right", "wrong") as fc.Arbitrary<Expectation>;
type Expectation = "none" | "right" | "wrong" | "zero";

/** One operation of a sequence. */
export type Op =
  | {
    op: "upsert";
    id: string;
    userId: string | null;
    agentId: string | null;
    name: string | null;
    memory: unknown;
    ev: Expectation;
  }
  | { op: "upsertMany"; items: { sessionId: string; userId: string | null }[] }
  | { op: "read"; id: string; userId?: string }
  | { op: "delete"; id: string; userId?: string }
  | { op: "rename"; id: string; name: string | null; userId?: string }
  | {
    op: "list";
    filter: Record<string, unknown>;
    sortBy: "createdAt" | "updatedAt";
    order: "asc" | "desc";
    limit: number;
  }
  | { op: "recent"; limit: number; userId?: string }
  | {
    op: "append";
    id: string;
    userId?: string;
    count: number;
    ev: Expectation;
    keys: (string | null)[];
    create: boolean;
    patch?: { memory: unknown };
  }
  | { op: "getRun"; id: string; key: string; userId?: string }
  | { op: "putRun"; id: string; at: { seq: number } | { key: string }; value: number; userId?: string; ev: Expectation }
  | { op: "truncate"; id: string; at: { seq: number } | { key: string }; userId?: string; ev: Expectation }
  | { op: "pop"; id: string; userId?: string; ev: Expectation }
  | { op: "lastRuns"; id: string; last: number; before?: number }
  | { op: "runs"; id: string; userId?: string; order: "asc" | "desc"; limit: number }
  | { op: "advance"; ms: number }
  | { op: "purge" }
  | { op: "drop" };

const ops: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("upsert" as const),
      id,
      userId: user,
      agentId: fc.constantFrom(...ENTITIES),
      name: fc.constantFrom(...NAMES),
      memory: json,
      ev: version,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("upsertMany" as const),
      items: fc.array(fc.record({ sessionId: id, userId: user }), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("read" as const), id, userId: maybeUser }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), id, userId: maybeUser }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("rename" as const),
      id,
      name: fc.constantFrom(...NAMES),
      userId: maybeUser,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("list" as const),
      filter: fc.record({
        userId: fc.constantFrom("u1", "u2"),
        entityId: fc.constantFrom("e1", "e2"),
        sessionName: fc.constantFrom("n1", "n2"),
        createdAfter: fc.integer({ min: 0, max: 60 }).map((n) => 1_000_000 + n),
        updatedBefore: fc.integer({ min: 0, max: 60 }).map((n) => 1_000_000 + n),
      }, { requiredKeys: [] }),
      sortBy: fc.constantFrom("createdAt" as const, "updatedAt" as const),
      order: fc.constantFrom("asc" as const, "desc" as const),
      limit: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("recent" as const),
      limit: fc.integer({ min: 1, max: 3 }),
      userId: maybeUser,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 1, max: 3 }).chain((count) =>
      fc.record({
        op: fc.constant("append" as const),
        id,
        userId: maybeUser,
        count: fc.constant(count),
        ev: version,
        keys: fc.uniqueArray(fc.option(runKey, { nil: null }), {
          minLength: count,
          maxLength: count,
          selector: (k) => k ?? Math.random(),
        }),
        create: fc.boolean(),
        patch: fc.option(fc.record({ memory: json }), { nil: undefined }),
      }, { requiredKeys: ["op", "id", "count", "ev", "keys", "create"] })
    ),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("getRun" as const), id, key: runKey, userId: maybeUser }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("putRun" as const),
      id,
      at: runAt,
      value: fc.integer({ min: 0, max: 9 }),
      userId: maybeUser,
      ev: editVersion,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("truncate" as const), id, at: runAt, userId: maybeUser, ev: editVersion }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("pop" as const), id, userId: maybeUser, ev: editVersion }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("lastRuns" as const),
      id,
      last: fc.integer({ min: 1, max: 4 }),
      before: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("runs" as const),
      id,
      userId: maybeUser,
      order: fc.constantFrom("asc" as const, "desc" as const),
      limit: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.constantFrom(0, 1, 5, 400, 1000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("purge" as const) }) },
  { weight: 1, arbitrary: fc.constant({ op: "drop" as const }) },
);

function failure(error: unknown): unknown {
  if (error instanceof ConflictError) return { error: error.name, expected: error.expected, actual: error.actual };
  if (error instanceof ValidationError) return { error: error.name, message: error.message };
  return {
    error: (error as Error)?.name ?? String(error),
    message: error instanceof Error && error.name === "StorageError" ? error.message : undefined,
  };
}

async function settle(work: () => Promise<unknown>): Promise<unknown> {
  try {
    return await work();
  } catch (error) {
    return failure(error);
  }
}

async function pageAll(storage: AnyStorage, options: Record<string, unknown>, runsOf?: string): Promise<unknown[]> {
  const out: unknown[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const page: { sessions?: unknown[]; runs?: unknown[]; nextCursor: string | null } = runsOf === undefined
      ? await storage.listSessions({ ...options, cursor })
      : await storage.getRuns(runsOf, { ...options, cursor });
    out.push(...(page.sessions ?? page.runs ?? []));
    cursor = page.nextCursor;
    if (cursor === null) return out;
  }
  throw new Error("paging did not end");
}

async function apply(storage: AnyStorage, op: Op, expected: number | undefined): Promise<unknown> {
  const ev = expected === undefined ? {} : { expectedVersion: expected };
  const who = (userId: string | undefined) => userId === undefined ? {} : { userId };
  switch (op.op) {
    case "upsert":
      return await settle(() =>
        storage.upsert({
          sessionId: op.id,
          userId: op.userId,
          agentId: op.agentId,
          sessionName: op.name,
          memory: op.memory,
        }, ev)
      );
    case "upsertMany":
      return await settle(() => storage.upsertMany(op.items));
    case "read":
      return await settle(() => storage.read(op.id, op.userId));
    case "delete":
      return await settle(() => storage.deleteSession(op.id, who(op.userId)));
    case "rename":
      return await settle(() => storage.renameSession(op.id, op.name, who(op.userId)));
    case "list":
      return await settle(() =>
        pageAll(storage, { ...op.filter, sortBy: op.sortBy, order: op.order, limit: op.limit })
      );
    case "recent":
      return await settle(() => storage.getRecentSessions({ limit: op.limit, ...who(op.userId) }));
    case "append": {
      const runs = op.keys.map((key, i): JsonObject => key === null ? { i } : { key });
      const extra = { keys: op.keys, create: op.create, ...(op.patch ? { patch: op.patch } : {}) };
      return await settle(() => storage.appendRuns(op.id, runs, { ...who(op.userId), ...ev, ...extra }));
    }
    case "getRun":
      return await settle(() => storage.getRun(op.id, op.key, who(op.userId)));
    case "putRun":
      return await settle(() => storage.putRun(op.id, op.at, { put: op.value }, { ...who(op.userId), ...ev }));
    case "truncate":
      return await settle(() => storage.truncateRuns(op.id, op.at, { ...who(op.userId), ...ev }));
    case "pop":
      return await settle(() => storage.popRun(op.id, { ...who(op.userId), ...ev }));
    case "lastRuns":
      return await settle(() => storage.getRuns(op.id, { last: op.last, ...(op.before ? { before: op.before } : {}) }));
    case "runs":
      return await settle(() => pageAll(storage, { order: op.order, limit: op.limit, ...who(op.userId) }, op.id));
    case "purge":
      return await settle(() => storage.purgeExpired());
    case "drop":
      return await settle(() => storage.drop());
    case "advance":
      return null;
  }
}

/** Registers one `Deno.test` running `runs` random sequences on `init`'s backend against the model. */
export function runPropertyTests(init: StoreTestInitializer, options: { runs: number; ignore?: boolean }): void {
  Deno.test({
    name: `${init.name}: behaves like the model (MemoryStorage) on ${options.runs} random operation sequences`,
    ignore: options.ignore ?? false,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      await init.setup?.();
      let sequences = 0;
      let commands = 0;
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(ops, { minLength: 5, maxLength: 30, size: "max" }),
            fc.boolean(),
            async (sequence, withTtl) => {
              sequences++;
              let now = 1_000_000;
              const clock = () => now;
              const config = { mode: "agent" as const, clock, ...(withTtl ? { ttlMs: 1000 } : {}) };
              const place = `prop${crypto.randomUUID().slice(0, 8)}`;
              const real = await init.create(config, place);
              const model = new MemoryStorage(config);
              try {
                for (const [step, op] of sequence.entries()) {
                  commands++;
                  if (op.op === "advance") {
                    now += op.ms;
                    continue;
                  }
                  let expected: number | undefined;
                  if (["upsert", "append", "putRun", "truncate", "pop"].includes(op.op)) {
                    const current = (await model.read((op as { id: string }).id))?.version ?? 0;
                    expected =
                      { none: undefined, right: current, wrong: current + 1, zero: 0 }[(op as { ev: Expectation }).ev];
                  }
                  const [got, want] = [await apply(real, op, expected), await apply(model, op, expected)];
                  assert.deepEqual(got, want, `step ${step} ${JSON.stringify(op)}`);
                }
              } finally {
                await (init.destroy ? init.destroy(real) : real.close());
              }
            },
          ),
          { numRuns: options.runs },
        );
      } finally {
        console.log(`${init.name}: ${sequences} sequences, ${commands} operations compared with the model`);
        await init.teardown?.();
      }
    },
  });
}

/** Sequences per backend: `PROPERTY_RUNS`, default 200 (`deno task test:deep` runs 2 000). */
export const PROPERTY_RUNS: number = Number(Deno.env.get("PROPERTY_RUNS") ?? 200);
