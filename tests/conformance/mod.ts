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
 * Lifecycle: each case is self-contained. It runs the initializer's `setup`,
 * makes its storages, and on the way out (passed or failed) disposes of them
 * and runs `teardown`; so any single case, run alone, leaves no server,
 * directory or database behind.
 *
 * The cases themselves use no runtime API (they also run in a browser); only
 * {@linkcode runConformance} registers them with `Deno.test`. Elsewhere, run
 * the functions {@linkcode conformanceCases} returns with your own runner.
 *
 * @module
 */
import type { ConformanceGroup, StoreTestInitializer } from "./_case.ts";
import { cases as atomic } from "./atomic.ts";
import { cases as crud } from "./crud.ts";
import { cases as cursor } from "./cursor.ts";
import { cases as encryption } from "./encryption.ts";
import { cases as errors } from "./errors.ts";
import { cases as importing } from "./import.ts";
import { cases as lifecycle } from "./lifecycle.ts";
import { cases as list } from "./list.ts";
import { cases as options } from "./options.ts";
import { cases as runs } from "./runs.ts";
import { cases as runlog } from "./runlog.ts";
import { cases as ttl } from "./ttl.ts";
import { cases as validation } from "./validation.ts";

export type { AnyStorage, ConformanceGroup, StoreTestInitializer, TestStorageOptions } from "./_case.ts";
export { HOSTILE_IDS, TestClock } from "./_case.ts";
/** The session types the initializer types refer to. */
export type * from "../../session/types.ts";

const ALL = [
  ...crud,
  ...atomic,
  ...list,
  ...cursor,
  ...ttl,
  ...validation,
  ...options,
  ...errors,
  ...runs,
  ...runlog,
  ...importing,
  ...encryption,
  ...lifecycle,
];

/** Options of {@linkcode runConformance} and {@linkcode conformanceCases}. */
export interface ConformanceOptions {
  /**
   * Only these groups.
   * @default {all}
   */
  groups?: ConformanceGroup[];
  /** Passed to `Deno.test` as `ignore` (e.g. when a service is missing outside CI). */
  ignore?: boolean;
}

/** One runnable case: its full name and a function that runs it from setup to teardown. */
export interface ConformanceCase {
  /** `<initializer name>: <group>: <case>`. */
  name: string;
  /** Runs `setup`, the case, then disposes of its storages and runs `teardown`, also on failure. */
  fn(): Promise<void>;
}

let placeCounter = 0;
function newPlace(): string {
  return `p${Date.now().toString(36)}${(placeCounter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** The suite's cases for `init`, each self-contained, for any test runner. */
export function conformanceCases(init: StoreTestInitializer, options: ConformanceOptions = {}): ConformanceCase[] {
  const groups = new Set(options.groups ?? ALL.map((c) => c.group));
  return ALL.filter((c) => groups.has(c.group)).map((c) => ({
    name: `${init.name}: ${c.group}: ${c.name}`,
    async fn() {
      await init.setup?.();
      const made: Parameters<NonNullable<StoreTestInitializer["destroy"]>>[0][] = [];
      const failures: unknown[] = [];
      try {
        await c.run({
          place: newPlace(),
          async make(opts, where) {
            const storage = await init.create(opts, where ?? newPlace());
            made.push(storage);
            return storage;
          },
        });
      } catch (error) {
        failures.push(error);
      }
      for (const step of [...made.map((s) => () => init.destroy ? init.destroy(s) : s.close()), init.teardown]) {
        try {
          await step?.call(init);
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length > 0) throw failures[0];
    },
  }));
}

/**
 * Registers the conformance suite as `Deno.test`s, one per case, named
 * `<initializer name>: <group>: <case>`. Each case sets up and tears down
 * what it uses, so `deno test --filter` on any case leaves nothing behind.
 * Resource sanitizers are off: clients may keep pooled connections.
 */
export function runConformance(init: StoreTestInitializer, options: ConformanceOptions = {}): void {
  const deno = (globalThis as unknown as { Deno: { test(definition: object): void } }).Deno;
  for (const c of conformanceCases(init, options)) {
    deno.test({ ...c, ignore: options.ignore ?? false, sanitizeResources: false, sanitizeOps: false });
  }
}
