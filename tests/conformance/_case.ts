// What every group file of the suite shares: the case registry and small helpers.
import * as assert from "../_assert.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import type { Session, SessionMode, SessionStorage } from "../../session/types.ts";

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

/**
 * How the suite makes and disposes of storages of one backend. Every case
 * runs `setup`, then the case, then disposes of the storages it made and runs
 * `teardown`, so a case run alone (`deno test --filter`) leaves nothing behind.
 */
export interface StoreTestInitializer {
  /** Shown in test names. */
  name: string;
  /** Runs before each case (start servers, make directories here). */
  setup?(): Promise<void>;
  /** Runs after each case, also when it failed; undoes `setup`. */
  teardown?(): Promise<void>;
  /** A new storage at `place` (same place: same underlying store). */
  create<M extends SessionMode>(options: TestStorageOptions<M>, place: string): Promise<AnyStorage>;
  /** Disposes of a storage the suite made; defaults to `close()`. */
  destroy?(storage: AnyStorage): Promise<void>;
}

/** Groups of the suite, to run a part. */
export type ConformanceGroup =
  | "runlog"
  | "crud"
  | "atomic"
  | "list"
  | "cursor"
  | "ttl"
  | "validation"
  | "options"
  | "errors"
  | "lifecycle"
  | "runs"
  | "import"
  | "encryption";

/** What a case receives. */
export interface CaseContext {
  /** A new storage, at `place` when given (else at a place of its own); disposed of after the case. */
  make<M extends SessionMode>(options: TestStorageOptions<M>, place?: string): Promise<AnyStorage>;
  /** A place made for this case, to make several storages sharing one store. */
  place: string;
}

/** One case of the suite. */
export interface Case {
  /** Its group. */
  group: ConformanceGroup;
  /** Its name, unique in the group. */
  name: string;
  /** Runs it. */
  run(ctx: CaseContext): Promise<void>;
}

/** The cases of one group, and the function that adds one. */
export function group(name: ConformanceGroup): { cases: Case[]; test(name: string, run: Case["run"]): void } {
  const cases: Case[] = [];
  return { cases, test: (caseName, run) => cases.push({ group: name, name: caseName, run }) };
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

/** A session input of `mode` with every field set, varied by `seed`. */
export function fullInput(mode: SessionMode, sessionId: string, seed: number): Record<string, unknown> {
  const f = MODE_FIELDS[mode];
  const input: Record<string, unknown> = { sessionId, userId: `user-${seed % 3}`, sessionName: `name ${seed}` };
  for (const [i, name] of f.strings.entries()) input[name] = `${name}-${seed % (i + 2)}`;
  for (const name of f.objects) {
    input[name] = { field: name, seed, nested: { list: [1, "two", null, true, { deep: [seed] }] }, text: "é😀\u0000" };
  }
  return input;
}

/** Awaits `promise`, asserts it rejects with a `type`, and returns the error. */
export async function rejects<E extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    return error;
  }
  throw new assert.AssertionError({ message: `expected ${type.name}, but it resolved` });
}

/** The ids of `sessions`, in order. */
export function ids(sessions: Session[]): string[] {
  return sessions.map((s) => s.sessionId);
}
