/**
 * The conformance suite every backend passes. Run it on your own backend:
 *
 * @example A backend's test file
 * ```ts ignore
 * import { runConformance } from "@agentstate/storage/testing";
 * import { MemoryStorage } from "@agentstate/storage";
 * runConformance({
 *   name: "memory",
 *   create: (options) => Promise.resolve(new MemoryStorage(options)),
 * });
 * ```
 *
 * Isolation rule: storages made with different `place`s never see each
 * other's data; storages made with the same `place` share the underlying
 * database, directory, key prefix or IndexedDB database.
 *
 * @module
 */
import * as assert from "./_assert.ts";
import {
  ConflictError,
  SessionNotFoundError,
  StorageError,
  UserMismatchError,
  ValidationError,
} from "../session/errors.ts";
import { compareIds } from "../session/list.ts";
import { MODE_FIELDS } from "../session/modes.ts";
import type { RunPage, RunRecord, Session, SessionMode, SessionOf, SessionStorage } from "../session/types.ts";

/** Options the suite passes to {@linkcode StoreTestInitializer.create}. */
export interface TestStorageOptions<M extends SessionMode> {
  /** The storage's mode. */
  mode: M;
  /** TTL to configure, when the test needs one. */
  ttlMs?: number;
  /** The clock to use. */
  clock?: () => number;
  /** Key to encrypt content at rest with. */
  encryptionKey?: Uint8Array;
}

/** A storage as the suite uses it: any mode, loosely typed inputs. */
// deno-lint-ignore no-explicit-any
export type AnyStorage = SessionStorage<any, any>;

/** How the suite makes and disposes of storages of one backend. */
export interface StoreTestInitializer {
  /** Shown in test names. */
  name: string;
  /** Runs once before the first test (start servers here). */
  setup?(): Promise<void>;
  /** Runs once after the last test. */
  teardown?(): Promise<void>;
  /** A new storage at `place` (same place: same underlying store). */
  create<M extends SessionMode>(options: TestStorageOptions<M>, place: string): Promise<AnyStorage>;
  /** Disposes of a storage the suite made; defaults to `close()`. */
  destroy?(storage: AnyStorage): Promise<void>;
}

/** Groups of the suite, to run a part. */
export type ConformanceGroup =
  | "crud"
  | "atomic"
  | "list"
  | "cursor"
  | "ttl"
  | "validation"
  | "lifecycle"
  | "runs"
  | "import"
  | "encryption";

/** Options of {@linkcode runConformance}. */
export interface ConformanceOptions {
  /**
   * Only these groups.
   * @default {all}
   */
  groups?: ConformanceGroup[];
  /** Passed to `Deno.test` as `ignore` (e.g. when a service is missing outside CI). */
  ignore?: boolean;
}

/** Ids no backend may mangle or escape with. */
export const HOSTILE_IDS: readonly string[] = [
  "../x",
  "../../etc/passwd",
  "a/b",
  "a\\b",
  "*",
  "?",
  "[abc]",
  "%",
  "_",
  "'; DROP TABLE agent_sessions; --",
  "x".repeat(512),
  "😀 émoji ✓",
  "nul\u0000byte",
  "line\nbreak\ttab",
  ".",
  "..",
  "CON",
  "Aa",
  "aA",
  "{}",
  "prefix:mode:key",
  "%2F",
  " ",
];

/** A clock tests move by hand. */
export class TestClock {
  /** Current epoch milliseconds. */
  now: number;
  /** Starts at `start`. */
  constructor(start = 1_700_000_000_000) {
    this.now = start;
  }
  /** Moves time forward. */
  advance(ms: number): void {
    this.now += ms;
  }
  /** A function returning the current time, for the `clock` option. */
  get fn(): () => number {
    return () => this.now;
  }
}

let placeCounter = 0;
function newPlace(): string {
  return `p${Date.now().toString(36)}${(placeCounter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

function fullInput(mode: SessionMode, sessionId: string, seed: number): Record<string, unknown> {
  const f = MODE_FIELDS[mode];
  const input: Record<string, unknown> = { sessionId, userId: `user-${seed % 3}`, sessionName: `name ${seed}` };
  for (const [i, name] of f.strings.entries()) input[name] = `${name}-${seed % (i + 2)}`;
  for (const name of f.objects) {
    input[name] = { field: name, seed, nested: { list: [1, "two", null, true, { deep: [seed] }] }, text: "é😀\u0000" };
  }
  return input;
}

async function rejects(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    return error;
  }
  throw new assert.AssertionError({ message: `expected ${type.name}, but it resolved` });
}

function ids(sessions: Session[]): string[] {
  return sessions.map((s) => s.sessionId);
}

interface Case {
  group: ConformanceGroup;
  name: string;
  run(ctx: CaseContext): Promise<void>;
}

interface CaseContext {
  make<M extends SessionMode>(options: TestStorageOptions<M>, place?: string): Promise<AnyStorage>;
  place: string;
}

const cases: Case[] = [];
function test(group: ConformanceGroup, name: string, run: (ctx: CaseContext) => Promise<void>): void {
  cases.push({ group, name, run });
}

// ---------------------------------------------------------------- crud

for (const mode of ["agent", "team", "workflow"] as const) {
  test("crud", `round trip of every field (${mode})`, async ({ make }) => {
    const clock = new TestClock();
    const s = await make({ mode, clock: clock.fn });
    const input = fullInput(mode, "s1", 7);
    const stored = await s.upsert(input);
    const expected = { ...input, createdAt: clock.now, updatedAt: clock.now, version: 1 };
    assert.deepEqual(stored, expected);
    assert.deepEqual(await s.read("s1"), expected);
    assert.deepEqual(Object.keys(stored).sort(), [...MODE_FIELDS[mode].all].sort());
  });
}

test("crud", "missing fields become null", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const stored = await s.upsert({ sessionId: "bare" });
  for (const name of MODE_FIELDS.agent.all) {
    if (!["sessionId", "createdAt", "updatedAt", "version"].includes(name)) assert.equal(stored[name], null, name);
  }
});

test("crud", "read of a missing session is null", async ({ make }) => {
  const s = await make({ mode: "agent" });
  assert.equal(await s.read("nope"), null);
});

test("crud", "createdAt is kept, updatedAt and version advance", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn });
  const first = await s.upsert({ sessionId: "s", memory: { n: 1 } });
  clock.advance(1000);
  const second = await s.upsert({ sessionId: "s", memory: { n: 2 } });
  assert.equal(second.createdAt, first.createdAt);
  assert.equal(second.updatedAt, first.updatedAt + 1000);
  assert.equal(second.version, 2);
  assert.deepEqual(second.memory, { n: 2 });
  clock.advance(5);
  const third = await s.upsert({ ...second, memory: { n: 3 } });
  assert.deepEqual([third.createdAt, third.version], [first.createdAt, 3]);
});

test("crud", "read with another user is null", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "s", userId: "alice" });
  assert.equal(await s.read("s", "bob"), null);
  assert.equal((await s.read("s", "alice"))?.userId, "alice");
  assert.equal((await s.read("s"))?.userId, "alice");
});

test("crud", "upsert over another user's session throws UserMismatchError and changes nothing", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const before = await s.upsert({ sessionId: "s", userId: "alice", memory: { secret: 1 } });
  await rejects(s.upsert({ sessionId: "s", userId: "bob", memory: { stolen: 1 } }), UserMismatchError);
  await rejects(s.upsert({ sessionId: "s", memory: { stolen: 1 } }), UserMismatchError);
  await rejects(s.upsert({ sessionId: "s", userId: "bob" }, { expectedVersion: 1 }), UserMismatchError);
  assert.deepEqual(await s.read("s"), before);
});

test("crud", "an unowned session can be claimed by a user", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "s" });
  const claimed = await s.upsert({ sessionId: "s", userId: "carol" });
  assert.deepEqual([claimed.userId, claimed.version], ["carol", 2]);
});

test("crud", "deleteSession removes only with the right user", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "s", userId: "alice" });
  assert.equal(await s.deleteSession("s", { userId: "bob" }), false);
  assert.notEqual(await s.read("s"), null);
  assert.equal(await s.deleteSession("s", { userId: "alice" }), true);
  assert.equal(await s.read("s"), null);
  assert.equal(await s.deleteSession("s"), false);
  await s.upsert({ sessionId: "t", userId: "x" });
  assert.equal(await s.deleteSession("t"), true);
  const again = await s.upsert({ sessionId: "t" });
  assert.equal(again.version, 1, "a deleted session starts again at version 1");
});

test("crud", "renameSession sets the name and bumps the version", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "team", clock: clock.fn });
  const first = await s.upsert({ sessionId: "s", userId: "alice", teamId: "t1" });
  clock.advance(10);
  const renamed = await s.renameSession("s", "Trip planning");
  assert.deepEqual(
    [renamed?.sessionName, renamed?.version, renamed?.updatedAt, renamed?.createdAt, renamed?.teamId],
    ["Trip planning", 2, first.updatedAt + 10, first.createdAt, "t1"],
  );
  assert.equal(await s.renameSession("s", "x", { userId: "bob" }), null);
  assert.equal(await s.renameSession("missing", "x"), null);
  assert.equal((await s.renameSession("s", null, { userId: "alice" }))?.sessionName, null);
  assert.equal((await s.read("s"))?.version, 3);
});

test("crud", "modes sharing one store never see each other", async ({ make, place }) => {
  const agent = await make({ mode: "agent" }, place);
  const team = await make({ mode: "team" }, place);
  const workflow = await make({ mode: "workflow" }, place);
  await agent.upsert({ sessionId: "same", agentId: "a" });
  assert.equal(await team.read("same"), null);
  await team.upsert({ sessionId: "same", teamId: "t" });
  await workflow.upsert({ sessionId: "same", workflowId: "w" });
  assert.equal((await agent.read("same"))?.agentId, "a");
  assert.equal((await team.read("same"))?.teamId, "t");
  assert.deepEqual(await agent.getAllSessionIds(), ["same"]);
  assert.equal(await team.deleteSession("same"), true);
  assert.equal((await agent.read("same"))?.version, 1);
  assert.equal((await workflow.read("same"))?.workflowId, "w");
});

test("crud", "hostile ids round-trip exactly", async ({ make }) => {
  const s = await make({ mode: "agent" });
  for (const id of HOSTILE_IDS) {
    await s.upsert({ sessionId: id, userId: id, agentId: id, sessionName: id, memory: { id } });
  }
  for (const id of HOSTILE_IDS) {
    const session = await s.read(id, id);
    assert.equal(session?.sessionId, id);
    assert.deepEqual(session?.memory, { id });
    assert.deepEqual((await s.listSessions({ userId: id })).sessions.map((x) => x.sessionId), [id]);
    assert.deepEqual((await s.listSessions({ entityId: id })).sessions.map((x) => x.sessionId), [id]);
    assert.deepEqual((await s.listSessions({ sessionName: id })).sessions.map((x) => x.sessionId), [id]);
  }
  assert.deepEqual((await s.getAllSessionIds()).sort(compareIds), [...HOSTILE_IDS].sort(compareIds));
  assert.equal(await s.deleteSession("*"), true);
  assert.equal((await s.getAllSessionIds()).length, HOSTILE_IDS.length - 1);
});

test("crud", "JSON keys that are special in JavaScript round-trip", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const memory = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "toString": 2, "": "empty"}');
  await s.upsert({ sessionId: "keys", memory });
  const read = await s.read("keys");
  assert.equal(JSON.stringify(read?.memory), JSON.stringify(memory));
  assert.ok(Object.hasOwn(read!.memory!, "__proto__"));
});

test("crud", "values are copied in and out", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const memory = { list: [1] };
  await s.upsert({ sessionId: "s", memory });
  memory.list.push(2);
  const read = await s.read("s");
  assert.deepEqual(read?.memory, { list: [1] });
  (read!.memory as { list: number[] }).list.push(3);
  assert.deepEqual((await s.read("s"))?.memory, { list: [1] });
});

// ---------------------------------------------------------------- atomic

test("atomic", "expectedVersion 0 inserts, right version updates, wrong version conflicts", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const first = await s.upsert({ sessionId: "s", memory: { v: 1 } }, { expectedVersion: 0 });
  assert.equal(first.version, 1);
  const conflict0 = await rejects(s.upsert({ sessionId: "s" }, { expectedVersion: 0 }), ConflictError);
  assert.deepEqual([(conflict0 as ConflictError).expected, (conflict0 as ConflictError).actual], [0, 1]);
  const second = await s.upsert({ sessionId: "s", memory: { v: 2 } }, { expectedVersion: 1 });
  assert.equal(second.version, 2);
  const conflict = await rejects(s.upsert({ sessionId: "s", memory: { v: 9 } }, { expectedVersion: 1 }), ConflictError);
  assert.deepEqual(
    [(conflict as ConflictError).sessionId, (conflict as ConflictError).expected, (conflict as ConflictError).actual],
    ["s", 1, 2],
  );
  assert.deepEqual(await s.read("s"), second);
  const missing = await rejects(s.upsert({ sessionId: "new" }, { expectedVersion: 3 }), ConflictError);
  assert.equal((missing as ConflictError).actual, 0);
  assert.equal(await s.read("new"), null);
});

test("atomic", "20 concurrent upserts with the same expectedVersion: exactly one wins", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const base = await s.upsert({ sessionId: "hot", memory: { n: 0 } });
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => s.upsert({ sessionId: "hot", memory: { n: i + 1 } }, { expectedVersion: 1 })),
  );
  const won = results.filter((r) => r.status === "fulfilled");
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  assert.equal(won.length, 1);
  for (const r of lost) assert.ok(r.reason instanceof ConflictError, String(r.reason));
  const final = await s.read("hot");
  assert.equal(final?.version, base.version + 1);
  assert.deepEqual(final, (won[0] as PromiseFulfilledResult<unknown>).value);
});

test("atomic", "20 concurrent upserts without expectedVersion: every one counted", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await Promise.all(Array.from({ length: 20 }, (_, i) => s.upsert({ sessionId: "c", memory: { i } })));
  assert.equal((await s.read("c"))?.version, 20);
});

test("atomic", "upsertMany equals upserting one by one", async ({ make }) => {
  const clock = new TestClock();
  const a = await make({ mode: "workflow", clock: clock.fn });
  const b = await make({ mode: "workflow", clock: clock.fn });
  const inputs = [fullInput("workflow", "x", 1), fullInput("workflow", "y", 2), fullInput("workflow", "x", 4)];
  const many = await a.upsertMany(inputs);
  const one: unknown[] = [];
  for (const input of inputs) one.push(await b.upsert(input));
  assert.deepEqual(many, one);
  assert.deepEqual(await a.getAllSessions(), await b.getAllSessions());
  assert.deepEqual(await a.upsertMany([]), []);
});

test("atomic", "upsertMany is all or nothing", async ({ make }) => {
  const s = await make({ mode: "agent" });
  if (!s.capabilities.atomicBatch) return;
  await s.upsert({ sessionId: "owned", userId: "alice", memory: { keep: true } });
  await rejects(
    s.upsertMany([{ sessionId: "new1" }, { sessionId: "owned", userId: "mallory" }, { sessionId: "new2" }]),
    UserMismatchError,
  );
  assert.equal(await s.read("new1"), null);
  assert.equal(await s.read("new2"), null);
  assert.deepEqual((await s.read("owned"))?.memory, { keep: true });
  await rejects(s.upsertMany([{ sessionId: "new3" }, { sessionId: "bad", memory: { n: NaN } }]), ValidationError);
  assert.equal(await s.read("new3"), null);
});

// ---------------------------------------------------------------- list

interface Seeded {
  storage: AnyStorage;
  all: Session[];
  clock: TestClock;
}

async function seed(make: CaseContext["make"], count: number): Promise<Seeded> {
  const clock = new TestClock();
  const storage = await make({ mode: "agent", clock: clock.fn });
  const all: Session[] = [];
  for (let start = 0; start < count; start += 10) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 10); i++) {
      batch.push({
        sessionId: `s${(i * 7919) % 1000}-${i}`,
        userId: i % 4 === 0 ? null : `u${i % 3}`,
        agentId: `a${i % 5}`,
        sessionName: i % 6 === 0 ? "named" : null,
      });
    }
    all.push(...await storage.upsertMany(batch));
    clock.advance(start % 30 === 0 ? 0 : 3);
  }
  // Touch some so updatedAt order differs from createdAt order.
  for (let i = 0; i < count; i += 9) {
    clock.advance(1);
    const updated = await storage.upsert({ ...all[i]!, memory: { touched: true } });
    all[i] = updated;
  }
  return { storage, all, clock };
}

function sorted(all: Session[], sortBy: "createdAt" | "updatedAt", order: "asc" | "desc"): Session[] {
  return [...all].sort((a, b) => {
    const diff = a[sortBy] - b[sortBy] || compareIds(a.sessionId, b.sessionId);
    return order === "asc" ? diff : -diff;
  });
}

async function pageAll(storage: AnyStorage, options: Record<string, unknown>): Promise<Session[]> {
  const out: Session[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    const page: { sessions: Session[]; nextCursor: string | null } = await storage.listSessions({ ...options, cursor });
    assert.ok(page.sessions.length <= (options.limit as number ?? 20));
    out.push(...page.sessions);
    cursor = page.nextCursor;
    if (cursor === null) return out;
    assert.equal(page.sessions.length, options.limit, "only the last page may be short");
  }
  throw new Error("paging did not end");
}

test("list", "both sorts and orders, every filter", async ({ make }) => {
  const { storage, all } = await seed(make, 60);
  const mid = sorted(all, "createdAt", "asc")[30]!;
  const midU = sorted(all, "updatedAt", "asc")[30]!;
  const filters: [Record<string, unknown>, (s: Session) => boolean][] = [
    [{}, () => true],
    [{ userId: "u1" }, (s) => s.userId === "u1"],
    [{ entityId: "a2" }, (s) => (s as SessionOf<"agent">).agentId === "a2"],
    [{ userId: "u2", entityId: "a2" }, (s) => s.userId === "u2" && (s as SessionOf<"agent">).agentId === "a2"],
    [{ sessionName: "named" }, (s) => s.sessionName === "named"],
    [{ createdAfter: mid.createdAt }, (s) => s.createdAt > mid.createdAt],
    [{ createdBefore: mid.createdAt }, (s) => s.createdAt < mid.createdAt],
    [{ updatedAfter: midU.updatedAt }, (s) => s.updatedAt > midU.updatedAt],
    [{ updatedBefore: midU.updatedAt, userId: "u0" }, (s) => s.updatedAt < midU.updatedAt && s.userId === "u0"],
  ];
  for (const [filter, keep] of filters) {
    for (const sortBy of ["createdAt", "updatedAt"] as const) {
      for (const order of ["asc", "desc"] as const) {
        const expected = ids(sorted(all.filter(keep), sortBy, order));
        const got = ids(await pageAll(storage, { ...filter, sortBy, order, limit: 7 }));
        assert.deepEqual(got, expected, `${JSON.stringify(filter)} ${sortBy} ${order}`);
      }
    }
  }
  const defaults = await storage.listSessions();
  assert.deepEqual(ids(defaults.sessions), ids(sorted(all, "createdAt", "desc").slice(0, 20)));
});

test("cursor", "pages of 1, 7 and 100 over 250 sessions visit each exactly once", async ({ make }) => {
  const { storage, all } = await seed(make, 250);
  for (
    const [limit, sortBy, order] of [[1, "createdAt", "desc"], [7, "updatedAt", "asc"], [
      100,
      "createdAt",
      "asc",
    ]] as const
  ) {
    const got = ids(await pageAll(storage, { limit, sortBy, order }));
    assert.deepEqual(got, ids(sorted(all, sortBy, order)), `limit ${limit}`);
  }
});

test("cursor", "paging neither skips nor repeats while sessions are inserted", async ({ make }) => {
  const { storage, all, clock } = await seed(make, 100);
  const seen: string[] = [];
  let cursor: string | null = null;
  let inserted = 0;
  do {
    const page: { sessions: Session[]; nextCursor: string | null } = await storage.listSessions({
      limit: 9,
      sortBy: "createdAt",
      order: "asc",
      cursor,
    });
    seen.push(...ids(page.sessions));
    cursor = page.nextCursor;
    clock.advance(1);
    await storage.upsert({ sessionId: `late-${inserted++}` });
  } while (cursor !== null);
  const original = new Set(ids(all));
  const fromOriginal = seen.filter((id) => original.has(id));
  assert.deepEqual(fromOriginal, ids(sorted(all, "createdAt", "asc")));
  assert.equal(new Set(seen).size, seen.length, "no repeats");
});

test("cursor", "a bad or mismatched cursor is a ValidationError", async ({ make }) => {
  const { storage } = await seed(make, 5);
  await rejects(storage.listSessions({ cursor: "garbage!" }), ValidationError);
  const page = await storage.listSessions({ limit: 2, sortBy: "createdAt" });
  assert.ok(page.nextCursor);
  await rejects(storage.listSessions({ cursor: page.nextCursor, sortBy: "updatedAt" }), ValidationError);
  for (const limit of [0, -1, 1.5, 1001]) await rejects(storage.listSessions({ limit }), ValidationError);
});

test("list", "getRecentSessions: newest createdAt first, default limit 2, filters", async ({ make }) => {
  const { storage, all } = await seed(make, 30);
  const newest = ids(sorted(all, "createdAt", "desc"));
  assert.deepEqual(ids(await storage.getRecentSessions()), newest.slice(0, 2));
  assert.deepEqual(ids(await storage.getRecentSessions({ limit: 5 })), newest.slice(0, 5));
  const u1 = ids(sorted(all.filter((s) => s.userId === "u1"), "createdAt", "desc"));
  assert.deepEqual(ids(await storage.getRecentSessions({ userId: "u1", limit: 3 })), u1.slice(0, 3));
});

test("list", "getAllSessionIds and getAllSessions with filters", async ({ make }) => {
  const { storage, all } = await seed(make, 40);
  const newest = sorted(all, "createdAt", "desc");
  assert.deepEqual(await storage.getAllSessionIds(), ids(newest));
  assert.deepEqual(
    ids(await storage.getAllSessions({ entityId: "a3" })),
    ids(newest.filter((s) => (s as SessionOf<"agent">).agentId === "a3")),
  );
  assert.deepEqual(await storage.getAllSessionIds({ userId: "nobody" }), []);
});

// ---------------------------------------------------------------- ttl

test("ttl", "expired sessions read as absent, are not listed, and are purged", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn, ttlMs: 60_000 });
  await s.upsert({ sessionId: "old", userId: "u" });
  clock.advance(30_000);
  await s.upsert({ sessionId: "young", userId: "u" });
  clock.advance(29_999);
  assert.notEqual(await s.read("old"), null);
  clock.advance(1);
  assert.equal(await s.read("old"), null);
  assert.deepEqual(await s.getAllSessionIds(), ["young"]);
  assert.deepEqual(ids((await s.listSessions({ userId: "u", sortBy: "updatedAt" })).sessions), ["young"]);
  assert.equal(await s.renameSession("old", "x"), null);
  const reborn = await s.upsert({ sessionId: "old", userId: "other" });
  assert.deepEqual([reborn.version, reborn.createdAt, reborn.userId], [1, clock.now, "other"]);
  clock.advance(60_000);
  assert.equal(await s.purgeExpired(), 2);
  assert.equal(await s.purgeExpired(), 0);
  assert.deepEqual(await s.getAllSessionIds(), []);
});

// Found by the property tests: the model used to drop an expired session on delete, so purge counts differed.
test("ttl", "deleting an expired session reports false; purgeExpired still removes it", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn, ttlMs: 1000 });
  await s.upsert({ sessionId: "x" });
  clock.advance(1000);
  assert.equal(await s.deleteSession("x"), false);
  assert.equal(await s.purgeExpired(), 1);
  assert.equal(await s.purgeExpired(), 0);
});

test("ttl", "a write keeps a session alive; no TTL means purgeExpired is 0", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn, ttlMs: 1000 });
  await s.upsert({ sessionId: "kept" });
  for (let i = 0; i < 3; i++) {
    clock.advance(900);
    await s.upsert({ sessionId: "kept" }, { expectedVersion: i + 1 });
  }
  assert.equal((await s.read("kept"))?.version, 4);
  const forever = await make({ mode: "agent", clock: clock.fn });
  await forever.upsert({ sessionId: "x" });
  clock.advance(10 ** 10);
  assert.equal(await forever.purgeExpired(), 0);
  assert.notEqual(await forever.read("x"), null);
});

// ---------------------------------------------------------------- validation

test(
  "validation",
  "invalid sessions are refused with ValidationError naming the path; nothing stored",
  async ({ make }) => {
    const s = await make({ mode: "agent" });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const bad: [unknown, string][] = [
      [{ sessionId: "" }, "sessionId"],
      [{ sessionId: "x".repeat(513) }, "sessionId"],
      [{ sessionId: 5 }, "sessionId"],
      [{ sessionId: "v", memory: { a: [1, NaN] } }, "memory.a[1]"],
      [{ sessionId: "v", memory: { a: Infinity } }, "memory.a"],
      [{ sessionId: "v", sessionData: { a: { b: undefined } } }, "sessionData.a.b"],
      [{ sessionId: "v", extraData: { f: () => 1 } }, "extraData.f"],
      [{ sessionId: "v", memory: cycle }, "memory.self"],
      [{ sessionId: "v", memory: { d: new Date(0) } }, "memory.d"],
      [{ sessionId: "v", memory: { n: 10n } }, "memory.n"],
      [{ sessionId: "v", memory: [1, 2] }, "memory"],
      [{ sessionId: "v", userId: "" }, "userId"],
      [{ sessionId: "v", agentId: 3 }, "agentId"],
      [{ sessionId: "v", memory: { s: "lone \ud800" } }, "memory.s"],
      [{ sessionId: "v", agentID: "typo" }, "(root)"],
      [{ sessionId: "v", teamId: "wrong mode" }, "(root)"],
      [null, "(root)"],
    ];
    for (const [input, path] of bad) {
      const error = await rejects(s.upsert(input as never), ValidationError);
      assert.ok(error.message.includes(path), `${error.message} should name ${path}`);
    }
    await rejects(s.upsert({ sessionId: "v" }, { expectedVersion: -1 }), ValidationError);
    await rejects(s.upsert({ sessionId: "v" }, { expectedVersion: 1.5 }), ValidationError);
    await rejects(s.read(""), ValidationError);
    await rejects(s.deleteSession("", {}), ValidationError);
    await rejects(s.renameSession("v", 5 as never), ValidationError);
    assert.deepEqual(await s.getAllSessionIds(), []);
  },
);

test(
  "validation",
  "1 000 levels of nesting and a 5 MB payload round-trip; 10 000 levels are refused",
  async ({ make }) => {
    const s = await make({ mode: "agent" });
    const nest = (levels: number) => {
      let value: Record<string, unknown> = { leaf: true };
      for (let i = 1; i < levels; i++) value = { d: value };
      return value;
    };
    const deep = nest(999); // memory itself is the 1000th level
    const big = { text: "é😀x".repeat(1_250_000) }; // 5 MB of UTF-8
    await s.upsert({ sessionId: "deep", memory: deep, sessionData: big });
    const read = await s.read("deep");
    assert.equal(JSON.stringify(read?.memory), JSON.stringify(deep));
    assert.equal((read?.sessionData as { text: string }).text, big.text);
    const error = await rejects(s.upsert({ sessionId: "deeper", memory: nest(10_000) }), ValidationError);
    assert.ok(error.message.includes("nested deeper than 1000 levels"), error.message);
    await rejects(s.appendRuns("deep", [nest(10_000) as never]), ValidationError);
    assert.equal(await s.read("deeper"), null);
  },
);

test("validation", "hostile strings: lone surrogates are refused, the rest is stored exactly", async ({ make }) => {
  const s = await make({ mode: "agent" });
  for (const bad of ["\ud800", "a\udfffb", "\udc00\ud800"]) {
    await rejects(s.upsert({ sessionId: bad }), ValidationError);
    await rejects(s.upsert({ sessionId: "ok", userId: bad }), ValidationError);
    await rejects(s.read(bad), ValidationError);
  }
  const nasty = [
    "%s%n%x",
    "[^]*$",
    "%%[%a]+",
    "\\x00",
    "\u0001\u001f\u007f",
    "\r\n",
    "' OR 1=1 --",
    "\u202e",
    "\ufeff",
  ];
  for (const text of nasty) {
    const saved = await s.upsert({ sessionId: text, sessionName: text, agentId: text, memory: { [text]: text } });
    assert.deepEqual(await s.read(text), saved);
  }
  assert.equal(await s.read("nope"), null);
  assert.deepEqual((await s.getAllSessionIds()).sort(compareIds), [...nasty].sort(compareIds));
});

test("validation", "error messages name paths, never session content", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const secret = "SECRET-diagnosis-4711";
  const error = await rejects(s.upsert({ sessionId: "p", memory: { note: secret, bad: NaN } }), ValidationError);
  assert.ok(error.message.includes("memory.bad"), error.message);
  assert.ok(!error.message.includes(secret), error.message);
  await s.upsert({ sessionId: "p", userId: "owner", memory: { note: secret } });
  for (
    const attempt of [
      s.upsert({ sessionId: "p", userId: "x", memory: {} }),
      s.upsert({ sessionId: "p", userId: "owner" }, { expectedVersion: 9 }),
    ]
  ) {
    const refused = await rejects(attempt, StorageError);
    assert.ok(!refused.message.includes(secret), refused.message);
  }
});

// ---------------------------------------------------------------- runs

async function allRuns(s: AnyStorage, id: string, options: Record<string, unknown> = {}): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    const page: RunPage = await s.getRuns(id, { ...options, cursor });
    out.push(...page.runs);
    cursor = page.nextCursor;
    if (cursor === null) return out;
  }
  throw new Error("paging did not end");
}

test("runs", "appendRuns appends in order, bumps the version once per call, pages by seq", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn });
  await s.upsert({ sessionId: "chat", memory: { summary: "" } });
  clock.advance(5);
  assert.deepEqual(await s.appendRuns("chat", [{ q: "hi" }, { a: "hello" }]), { version: 2, runCount: 2 });
  clock.advance(5);
  const third = await s.appendRuns("chat", Array.from({ length: 8 }, (_, i) => ({ turn: i + 3, text: "é😀\u0000" })));
  assert.deepEqual(third, { version: 3, runCount: 10 });
  const session = await s.read("chat");
  assert.deepEqual([session?.version, session?.updatedAt], [3, clock.now]);
  assert.equal("runs" in session!, false, "read does not load runs");
  const asc = await allRuns(s, "chat", { limit: 3 });
  assert.deepEqual(asc.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(asc[0], { seq: 1, createdAt: clock.now - 5, run: { q: "hi" } });
  assert.deepEqual(asc[9]?.run, { turn: 10, text: "é😀\u0000" });
  const desc = await allRuns(s, "chat", { limit: 4, order: "desc" });
  assert.deepEqual(desc.map((r) => r.seq), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  const first = await s.getRuns("chat", { limit: 10 });
  assert.equal(first.nextCursor, null);
  await rejects(s.getRuns("chat", { cursor: first.nextCursor ?? "nope" }), ValidationError);
  const kept = await s.upsert({ sessionId: "chat", memory: { summary: "two" } });
  assert.equal(kept.version, 4);
  assert.equal((await allRuns(s, "chat")).length, 10, "upsert keeps the runs");
});

test("runs", "ownership, missing sessions and validation", async ({ make }) => {
  const s = await make({ mode: "team" });
  await rejects(s.appendRuns("none", [{ a: 1 }]), SessionNotFoundError);
  assert.deepEqual(await s.getRuns("none"), { runs: [], nextCursor: null });
  await s.upsert({ sessionId: "owned", userId: "alice" });
  await rejects(s.appendRuns("owned", [{ a: 1 }], { userId: "bob" }), UserMismatchError);
  await rejects(s.appendRuns("owned", [{ a: 1 }]), UserMismatchError);
  assert.deepEqual(await s.appendRuns("owned", [{ a: 1 }], { userId: "alice" }), { version: 2, runCount: 1 });
  assert.deepEqual(await s.getRuns("owned", { userId: "bob" }), { runs: [], nextCursor: null });
  assert.equal((await s.getRuns("owned", { userId: "alice" })).runs.length, 1);
  for (const bad of [[], [1], [[1]], [{ n: NaN }], [{ ok: 1 }, { f: () => 1 }], "x"]) {
    await rejects(s.appendRuns("owned", bad as never, { userId: "alice" }), ValidationError);
  }
  assert.equal((await s.read("owned"))?.version, 2);
  assert.equal((await s.getRuns("owned")).runs.length, 1);
});

test("runs", "two appenders with the same expectedVersion: one wins, nothing lost or duplicated", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "c" });
  const results = await Promise.allSettled([
    s.appendRuns("c", [{ by: "x", n: 1 }, { by: "x", n: 2 }], { expectedVersion: 1 }),
    s.appendRuns("c", [{ by: "y", n: 1 }], { expectedVersion: 1 }),
  ]);
  const won = results.filter((r) => r.status === "fulfilled");
  assert.equal(won.length, 1);
  const lost = results.find((r): r is PromiseRejectedResult => r.status === "rejected")!;
  assert.ok(lost.reason instanceof ConflictError, String(lost.reason));
  const runs = await allRuns(s, "c");
  const winner = (won[0] as PromiseFulfilledResult<{ runCount: number }>).value;
  assert.equal(runs.length, winner.runCount);
  assert.equal(new Set(runs.map((r) => (r.run as { by: string }).by)).size, 1, "only the winner's runs");
  assert.deepEqual(runs.map((r) => r.seq), runs.map((_, i) => i + 1));
});

test("runs", "20 concurrent appenders: 20 runs with distinct consecutive seq", async ({ make }) => {
  const s = await make({ mode: "workflow" });
  await s.upsert({ sessionId: "w" });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.appendRuns("w", [{ i }])));
  assert.deepEqual(results.map((r) => r.runCount).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
  const runs = await allRuns(s, "w", { limit: 7 });
  assert.deepEqual(runs.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(
    runs.map((r) => (r.run as { i: number }).i).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.equal((await s.read("w"))?.version, 21);
});

test("runs", "delete, TTL, purge and drop take the runs with the session", async ({ make }) => {
  const clock = new TestClock();
  const s = await make({ mode: "agent", clock: clock.fn, ttlMs: 1000 });
  await s.upsert({ sessionId: "d" });
  await s.appendRuns("d", [{ n: 1 }, { n: 2 }]);
  assert.equal(await s.deleteSession("d"), true);
  await s.upsert({ sessionId: "d" });
  assert.deepEqual((await s.getRuns("d")).runs, [], "a re-created session starts with no runs");
  await s.appendRuns("d", [{ n: 3 }]);
  clock.advance(1000);
  assert.deepEqual((await s.getRuns("d")).runs, []);
  await rejects(s.appendRuns("d", [{ n: 4 }]), SessionNotFoundError);
  await s.upsert({ sessionId: "d" });
  assert.deepEqual((await s.getRuns("d")).runs, [], "expired runs do not come back");
  await s.appendRuns("d", [{ n: 5 }]);
  await s.upsert({ sessionId: "e" });
  await s.appendRuns("e", [{ n: 6 }]);
  clock.advance(1000);
  assert.equal(await s.purgeExpired(), 2);
  await s.upsert({ sessionId: "e" });
  assert.deepEqual((await s.getRuns("e")).runs, []);
  await s.appendRuns("e", [{ n: 7 }]);
  await s.drop();
  await s.upsert({ sessionId: "e" });
  assert.deepEqual((await s.getRuns("e")).runs, [], "drop removes runs");
});

// ---------------------------------------------------------------- import

test("import", "importSessions restores sessions and runs exactly; appends continue the log", async ({ make }) => {
  const clock = new TestClock();
  const source = await make({ mode: "team", clock: clock.fn });
  for (let i = 0; i < 5; i++) {
    await source.upsert(fullInput("team", `t${i}`, i));
    clock.advance(7);
    if (i % 2 === 0) await source.appendRuns(`t${i}`, [{ i, n: 1 }, { i, n: 2 }], { userId: `user-${i % 3}` });
    clock.advance(3);
  }
  const entries = [];
  for (const session of await source.getAllSessions()) {
    entries.push({ session, runs: (await source.getRuns(session.sessionId, { limit: 1000 })).runs });
  }
  clock.advance(1000);
  const target = await make({ mode: "team", clock: clock.fn });
  assert.deepEqual(await target.importSessions(entries), { imported: 5, skipped: 0 });
  assert.deepEqual(await target.getAllSessions(), await source.getAllSessions());
  for (const { session, runs } of entries) {
    assert.deepEqual((await target.getRuns(session.sessionId, { limit: 1000 })).runs, runs);
  }
  const next = await target.appendRuns("t0", [{ n: 3 }], { userId: "user-0" });
  assert.deepEqual(next, {
    version: entries.find((e) => e.session.sessionId === "t0")!.session.version + 1,
    runCount: 3,
  });
});

test("import", "onConflict: fail imports nothing, skip keeps, overwrite replaces with runs", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "a", memory: { mine: true } });
  await s.appendRuns("a", [{ old: 1 }, { old: 2 }]);
  const at = 1_600_000_000_000;
  const entry = (id: string, memory: Record<string, unknown>) => ({
    session: { ...fullInput("agent", id, 1), memory, createdAt: at, updatedAt: at + 1, version: 9 },
    runs: [{ seq: 1, createdAt: at, run: { imported: id } }],
  });
  const error = await rejects(s.importSessions([entry("b", {}), entry("a", { theirs: true })]), ConflictError);
  assert.equal((error as ConflictError).sessionId, "a");
  if (s.capabilities.atomicBatch) assert.equal(await s.read("b"), null);
  await s.deleteSession("b");
  assert.deepEqual(await s.importSessions([entry("a", { theirs: true }), entry("b", {})], { onConflict: "skip" }), {
    imported: 1,
    skipped: 1,
  });
  assert.deepEqual((await s.read("a"))?.memory, { mine: true });
  assert.equal((await s.getRuns("a")).runs.length, 2);
  assert.deepEqual([(await s.read("b"))?.version, (await s.read("b"))?.createdAt], [9, at]);
  assert.deepEqual(await s.importSessions([entry("a", { theirs: true })], { onConflict: "overwrite" }), {
    imported: 1,
    skipped: 0,
  });
  assert.deepEqual((await s.read("a"))?.memory, { theirs: true });
  assert.deepEqual((await s.getRuns("a")).runs, [{ seq: 1, createdAt: at, run: { imported: "a" } }]);
});

test("import", "invalid entries are refused with ValidationError and nothing is written", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const good = { session: { sessionId: "g", createdAt: 1, updatedAt: 2, version: 1 }, runs: [] };
  const bad: unknown[] = [
    { session: { sessionId: "x", createdAt: -1, updatedAt: 2, version: 1 }, runs: [] },
    { session: { sessionId: "x", createdAt: 1, updatedAt: 2, version: 0 }, runs: [] },
    { session: { sessionId: "x", createdAt: 1, updatedAt: 2, version: 1 }, runs: [{ seq: 2, createdAt: 1, run: {} }] },
    { session: { sessionId: "x", createdAt: 1, updatedAt: 2, version: 1 }, runs: [{ seq: 1, createdAt: 1, run: [] }] },
    { session: { sessionId: "", createdAt: 1, updatedAt: 2, version: 1 }, runs: [] },
    good,
    null,
  ];
  for (const entry of bad) await rejects(s.importSessions([good, entry] as never), ValidationError);
  await rejects(s.importSessions([good], { onConflict: "merge" as never }), ValidationError);
  assert.deepEqual(await s.getAllSessionIds(), []);
});

// ---------------------------------------------------------------- encryption

test(
  "encryption",
  "encryptionKey: content and runs are ciphertext at rest, ids stay queryable",
  async ({ make, place }) => {
    const key = new Uint8Array(32).fill(7);
    const s = await make({ mode: "agent", encryptionKey: key }, place);
    const secret = { diagnosis: "very private", list: [1, "two"] };
    const stored = await s.upsert({
      sessionId: "e",
      userId: "ada",
      agentId: "doc",
      memory: secret,
      agentData: { k: 1 },
    });
    assert.deepEqual(stored.memory, secret);
    assert.deepEqual((await s.read("e"))?.memory, secret);
    assert.deepEqual((await s.listSessions({ userId: "ada", entityId: "doc" })).sessions.map((x) => x.memory), [
      secret,
    ]);
    await s.appendRuns("e", [{ said: "private words" }], { userId: "ada" });
    assert.deepEqual((await s.getRuns("e")).runs.map((r) => r.run), [{ said: "private words" }]);
    assert.deepEqual((await s.renameSession("e", "Visit"))?.memory, secret);
    if (!s.capabilities.persistent) return;
    const plain = await make({ mode: "agent" }, place);
    const raw = await plain.read("e");
    assert.equal(raw?.userId, "ada");
    assert.equal(raw?.sessionName, "Visit");
    assert.equal(JSON.stringify(raw).includes("very private"), false, "memory is encrypted at rest");
    assert.equal(JSON.stringify(await plain.getRuns("e")).includes("private words"), false, "runs are encrypted");
    const wrong = await make({ mode: "agent", encryptionKey: new Uint8Array(32).fill(8) }, place);
    const error = await rejects(wrong.read("e"), StorageError);
    assert.equal(error.name, "DecryptionError");
    assert.equal(error.message.includes("very private"), false);
    await rejects(wrong.getRuns("e"), StorageError);
  },
);

// ---------------------------------------------------------------- lifecycle

test(
  "lifecycle",
  "create is idempotent; drop then create gives an empty store and spares other modes",
  async ({ make, place }) => {
    const agent = await make({ mode: "agent" }, place);
    const team = await make({ mode: "team" }, place);
    await agent.create();
    await agent.create();
    await agent.upsert({ sessionId: "a1" });
    await team.upsert({ sessionId: "t1" });
    await agent.drop();
    await agent.create();
    assert.deepEqual(await agent.getAllSessionIds(), []);
    assert.equal(await agent.read("a1"), null);
    assert.deepEqual(await team.getAllSessionIds(), ["t1"]);
    await agent.upsert({ sessionId: "a2" });
    assert.deepEqual(await agent.getAllSessionIds(), ["a2"]);
  },
);

test("lifecycle", "data survives close when the backend is persistent", async ({ make, place }) => {
  const first = await make({ mode: "agent" }, place);
  await first.upsert({ sessionId: "kept", memory: { x: 1 } });
  if (!first.capabilities.persistent) return;
  await first.close();
  const second = await make({ mode: "agent" }, place);
  assert.deepEqual((await second.read("kept"))?.memory, { x: 1 });
});

test("lifecycle", "a closed storage throws StorageError", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "x" });
  await s.close();
  await s.close();
  await rejects(s.read("x"), StorageError);
});

/**
 * Registers the conformance suite as `Deno.test`s, one per case, named
 * `<initializer name>: <group>: <case>`. Servers that span tests are started
 * in `setup` and stopped in `teardown`, so resource sanitizers are off.
 */
export function runConformance(init: StoreTestInitializer, options: ConformanceOptions = {}): void {
  const groups = new Set(options.groups ?? cases.map((c) => c.group));
  const ignore = options.ignore ?? false;
  const base = { ignore, sanitizeResources: false, sanitizeOps: false };
  let ready: Promise<void> | null = null;
  const made: AnyStorage[] = [];
  const selected = cases.filter((c) => groups.has(c.group));
  for (const [index, c] of selected.entries()) {
    Deno.test({
      ...base,
      name: `${init.name}: ${c.group}: ${c.name}`,
      async fn() {
        ready ??= init.setup?.() ?? Promise.resolve();
        await ready;
        const place = newPlace();
        try {
          await c.run({
            place,
            async make(opts, where) {
              const storage = await init.create(opts, where ?? newPlace());
              made.push(storage);
              return storage;
            },
          });
        } finally {
          for (const storage of made.splice(0)) await (init.destroy ? init.destroy(storage) : storage.close());
          if (index === selected.length - 1) await init.teardown?.();
        }
      },
    });
  }
}
