// The errors group of the conformance suite: refusals name the backend and carry real versions.
import * as assert from "../_assert.ts";
import {
  ConflictError,
  SessionNotFoundError,
  StorageError,
  UserMismatchError,
  ValidationError,
} from "../../session/errors.ts";
import { type AnyStorage, group, rejects } from "./_case.ts";

const { cases, test } = group("errors");
/** The cases of the errors group. */
export { cases };

function conflict(error: ConflictError, s: AnyStorage, sessionId: string, expected: number, actual: number): void {
  assert.deepEqual(
    [error.backend, error.sessionId, error.expected, error.actual],
    [s.backend, sessionId, expected, actual],
    error.message,
  );
  assert.ok(error.message.includes(`expected version ${expected}, found ${actual}`), error.message);
}

test("ConflictError from upsert, appendRuns and importSessions names the backend and the real versions", async ({ make }) => {
  const s = await make({ mode: "agent" });
  assert.equal(typeof s.backend, "string");
  await s.upsert({ sessionId: "c" });
  await s.upsert({ sessionId: "c" });
  conflict(await rejects(s.upsert({ sessionId: "c" }, { expectedVersion: 1 }), ConflictError), s, "c", 1, 2);
  conflict(await rejects(s.upsert({ sessionId: "c" }, { expectedVersion: 0 }), ConflictError), s, "c", 0, 2);
  conflict(await rejects(s.upsert({ sessionId: "absent" }, { expectedVersion: 4 }), ConflictError), s, "absent", 4, 0);
  conflict(await rejects(s.appendRuns("c", [{ n: 1 }], { expectedVersion: 7 }), ConflictError), s, "c", 7, 2);
  const imported = { session: { sessionId: "c", createdAt: 1, updatedAt: 2, version: 5 }, runs: [] };
  const importError = await rejects(s.importSessions([imported]), ConflictError);
  assert.deepEqual([importError.backend, importError.sessionId], [s.backend, "c"]);
  assert.ok(importError.expected >= 0 && importError.actual >= 0, importError.message);
  assert.equal((await s.read("c"))?.version, 2);
});

test("ConflictError from concurrent writers carries real versions, never -1", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "hot" });
  const results = await Promise.allSettled([
    ...Array.from({ length: 5 }, () => s.upsert({ sessionId: "hot" }, { expectedVersion: 1 })),
    ...Array.from({ length: 5 }, () => s.appendRuns("hot", [{ n: 1 }], { expectedVersion: 1 })),
  ]);
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason);
  assert.equal(lost.length, 9);
  for (const error of lost) {
    assert.ok(error instanceof ConflictError, String(error));
    assert.deepEqual([error.backend, error.expected], [s.backend, 1]);
    assert.equal(error.actual, 2, error.message);
  }
});

test("UserMismatchError and SessionNotFoundError name the backend", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.upsert({ sessionId: "mine", userId: "alice" });
  for (
    const attempt of [
      () => s.upsert({ sessionId: "mine", userId: "bob" }),
      () => s.upsert({ sessionId: "mine" }, { expectedVersion: 1 }),
      () => s.upsertMany([{ sessionId: "other" }, { sessionId: "mine", userId: "bob" }]),
      () => s.appendRuns("mine", [{ n: 1 }], { userId: "bob" }),
    ]
  ) {
    const error = await rejects(attempt(), UserMismatchError);
    assert.deepEqual([error.backend, error.sessionId], [s.backend, "mine"]);
  }
  const missing = await rejects(s.appendRuns("absent", [{ n: 1 }]), SessionNotFoundError);
  assert.deepEqual([missing.backend, missing.sessionId], [s.backend, "absent"]);
});

test("a wrong encryptionKey is a DecryptionError naming the backend", async ({ make, place }) => {
  const s = await make({ mode: "agent", encryptionKey: new Uint8Array(32).fill(1) }, place);
  await s.upsert({ sessionId: "e", memory: { secret: 1 } });
  await s.appendRuns("e", [{ said: "x" }]);
  if (!s.capabilities.persistent) return;
  const wrong = await make({ mode: "agent", encryptionKey: new Uint8Array(32).fill(2) }, place);
  for (const attempt of [() => wrong.read("e"), () => wrong.getRuns("e"), () => wrong.listSessions()]) {
    const error = await rejects(attempt(), StorageError);
    assert.deepEqual([error.name, error.backend], ["DecryptionError", s.backend]);
  }
});

test("a closed storage's error names the backend", async ({ make }) => {
  const s = await make({ mode: "agent" });
  await s.close();
  const error = await rejects(s.read("x"), StorageError);
  assert.equal(error.backend, s.backend);
  assert.ok(!(error instanceof ValidationError));
});

test("argument errors (checked before the storage is touched) name the backend", async ({ make }) => {
  const s = await make({ mode: "agent" });
  const calls: [string, () => Promise<unknown>][] = [
    ["read", () => s.read("")],
    ["upsert", () => s.upsert({ sessionId: "x", agentID: "typo" })],
    ["upsertMany", () => s.upsertMany([{ sessionId: "" }])],
    ["deleteSession", () => s.deleteSession("x", { userID: "ada" } as never)],
    ["renameSession", () => s.renameSession("x", 5 as never)],
    ["listSessions", () => s.listSessions({ user: "ada" } as never)],
    ["getAllSessions", () => s.getAllSessions({ user: "ada" } as never)],
    ["getAllSessionIds", () => s.getAllSessionIds({ user: "ada" } as never)],
    ["getRecentSessions", () => s.getRecentSessions({ limit: 0 })],
    ["importSessions", () => s.importSessions("nope" as never)],
    ["appendRuns", () => s.appendRuns("x", [])],
    ["getRuns", () => s.getRuns("x", { limit: 0 })],
    ["patch", () => s.patch("x", { userId: "bob" } as never)],
    ["update", () => s.update("x", "nope" as never)],
  ];
  for (const [name, call] of calls) {
    const error = await rejects(call(), ValidationError);
    assert.equal(error.backend, s.backend, `${name}: backend`);
  }
});
