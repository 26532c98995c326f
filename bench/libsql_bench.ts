/**
 * Embedded libSQL side by side: LibsqlStorage (the `libsql` package, prepared
 * statements, lean updates, group commit), the raw floor (the same driver and
 * schema, hand-written statements, no validation), LibsqlStorage over a
 * `@libsql/client` client (the previous path), and `@mastra/libsql`. Single
 * caller and 8 / 32 concurrent callers; CPU µs per operation and ops/s,
 * medians of rounds that alternate the order of the contenders.
 */
import { createClient } from "@libsql/client";
import { LibSQLStore } from "@mastra/libsql";
import Database from "libsql";
import process from "node:process";
import { LibsqlStorage } from "../backends/libsql.ts";
import { fmt, mastraThread, payload, table } from "./harness.ts";

/** Options of a bench section. */
export interface SectionOptions {
  /** Tiny sizes, for CI. */
  smoke: boolean;
  /** A scratch directory. */
  dir: string;
}

type Op = (worker: number, j: number) => Promise<unknown> | unknown;

/** One contender: an operation per workload, or none where it has no equivalent. */
interface Contender {
  name: string;
  ops: Partial<Record<Workload, Op>>;
}

const WORKLOADS = ["insert", "update", "update with expectedVersion", "point read", "list page of 20"] as const;
type Workload = typeof WORKLOADS[number];

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/**
 * A full garbage collection when the runtime exposes it (`deno task bench` passes `--expose-gc`), so a contender's
 * window does not pay for the garbage the previous contender left.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

/** Runs `op` `total` times split over `callers` concurrent callers; returns [CPU µs per op, ops/s]. */
async function run(op: Op, callers: number, total: number): Promise<[number, number]> {
  const each = Math.ceil(total / callers);
  collectGarbage();
  const cpu = cpuMicros();
  const wall = performance.now();
  await Promise.all(Array.from({ length: callers }, async (_, w) => {
    for (let j = 0; j < each; j++) await op(w, j);
  }));
  const ops = each * callers;
  return [(cpuMicros() - cpu) / ops, ops / ((performance.now() - wall) / 1000)];
}

/** Runs the embedded libSQL workloads and returns a Markdown section. */
export async function libsqlSection({ smoke, dir }: SectionOptions): Promise<string> {
  const stored = smoke ? 320 : 10_000;
  const perRound = smoke ? 64 : 512;
  const rounds = smoke ? 1 : 3;
  const memory = payload(2, 1);
  const users = 50;
  const seed = (i: number) => ({ sessionId: `seed-${i}`, userId: `user-${i % users}`, agentId: "agent", memory });
  // Each caller updates its own slice of the stored sessions, so versions it tracks stay its own.
  const slot = (callers: number) => (w: number, j: number) =>
    w * Math.floor(stored / callers) + (j % Math.floor(stored / callers));

  const ours = new LibsqlStorage({ url: `file:${dir}/ours.db` });
  const client = createClient({ url: `file:${dir}/client.db`, intMode: "number", concurrency: 1 });
  await client.execute("PRAGMA journal_mode = WAL");
  await client.execute("PRAGMA synchronous = NORMAL");
  const viaClient = new LibsqlStorage({ client });
  const floorSetup = new LibsqlStorage({ url: `file:${dir}/floor.db` });
  for (const storage of [ours, viaClient, floorSetup]) {
    for (let i = 0; i < stored; i += 500) {
      await storage.upsertMany(Array.from({ length: Math.min(500, stored - i) }, (_, k) => seed(i + k)));
    }
  }
  await floorSetup.close();
  const db = new Database(`${dir}/floor.db`, { timeout: 5000 });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  const floorInsert = db.prepare(
    "INSERT INTO agent_sessions (session_id, user_id, agent_id, memory, created_at, updated_at, version) " +
      "VALUES (?, ?, ?, ?, ?, ?, 1)",
  );
  const floorUpdate = db.prepare(
    "UPDATE agent_sessions SET memory = ?, updated_at = ?, version = version + 1 WHERE session_id = ? " +
      "AND (user_id IS NULL OR user_id = ?) RETURNING created_at, updated_at, version",
  );
  const floorUpdateIf = db.prepare(
    "UPDATE agent_sessions SET memory = ?, updated_at = ?, version = version + 1 WHERE session_id = ? " +
      "AND version = ? AND (user_id IS NULL OR user_id = ?) RETURNING created_at, updated_at, version",
  );
  const floorRead = db.prepare("SELECT * FROM agent_sessions WHERE session_id = ?");
  const floorList = db.prepare(
    "SELECT * FROM agent_sessions WHERE user_id = ? ORDER BY created_at DESC, session_id DESC LIMIT 21",
  );
  const parsed = (row: Record<string, unknown>) => ({ ...row, memory: JSON.parse(row.memory as string) });

  const mastraStore = new LibSQLStore({ id: "bench", url: `file:${dir}/mastra.db` });
  await mastraStore.init();
  const seeded = performance.now();
  const mastra = (await mastraStore.getStore("memory"))!;
  for (let i = 0; i < stored; i++) {
    await mastra.saveThread({ thread: mastraThread(`seed-${i}`, `user-${i % users}`, memory) });
  }

  console.error(`libsql bench: mastra seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
  let fresh = 0;
  // The versions each contender's updates left, so an update with expectedVersion needs no read.
  const versions = new Map<string, Map<string, number>>();
  const known = (name: string) => versions.get(name) ?? versions.set(name, new Map()).get(name)!;
  const versioned = (name: string, storage: LibsqlStorage, at: (w: number, j: number) => number): Op => {
    const known_ = known(name);
    return async (w, j) => {
      const id = `seed-${at(w, j)}`;
      const version = known_.get(id) ?? (await storage.read(id))!.version;
      const saved = await storage.upsert({ ...seed(at(w, j)), memory }, { expectedVersion: version });
      known_.set(id, saved.version);
    };
  };
  const floorVersions = known("raw floor");
  const contenders = (callers: number): Contender[] => {
    const at = slot(callers);
    const storageOps = (name: string, storage: LibsqlStorage): Contender => ({
      name,
      ops: {
        "insert": () => storage.upsert({ sessionId: `new-${fresh++}`, userId: "u", memory }),
        "update": async (w, j) => {
          const saved = await storage.upsert(seed(at(w, j)));
          known(name).set(saved.sessionId, saved.version);
        },
        "update with expectedVersion": versioned(name, storage, at),
        "point read": (w, j) => storage.read(`seed-${at(w, j)}`),
        "list page of 20": (w, j) => storage.listSessions({ userId: `user-${(w + j) % users}`, limit: 20 }),
      },
    });
    return [
      storageOps("LibsqlStorage", ours),
      {
        name: "raw floor",
        ops: {
          "insert": () =>
            floorInsert.run([`new-${fresh++}`, "u", null, JSON.stringify(memory), Date.now(), Date.now()]),
          "update": (w, j) => {
            const id = `seed-${at(w, j)}`;
            const row = floorUpdate.get([JSON.stringify(memory), Date.now(), id, seed(at(w, j)).userId]) as
              | { version: number }
              | undefined;
            if (row === undefined) throw new Error(`floor: ${id} refused`);
            floorVersions.set(id, row.version);
          },
          "update with expectedVersion": (w, j) => {
            const id = `seed-${at(w, j)}`;
            const version = floorVersions.get(id) ??
              (floorRead.get([id]) as { version: number }).version;
            const row = floorUpdateIf.get([
              JSON.stringify(memory),
              Date.now(),
              id,
              version,
              `user-${at(w, j) % users}`,
            ]) as
              | { version: number }
              | undefined;
            if (row === undefined) throw new Error(`floor: ${id} refused at version ${version}`);
            floorVersions.set(id, row.version);
          },
          "point read": (w, j) => parsed(floorRead.get([`seed-${at(w, j)}`]) as Record<string, unknown>),
          "list page of 20": (w, j) =>
            (floorList.all([`user-${(w + j) % users}`]) as Record<string, unknown>[]).map(parsed),
        },
      },
      storageOps("LibsqlStorage on @libsql/client", viaClient),
      {
        name: "@mastra/libsql",
        ops: {
          "insert": () => mastra.saveThread({ thread: mastraThread(`new-${fresh++}`, "u", memory) }),
          "update": (w, j) => mastra.saveThread({ thread: mastraThread(`seed-${at(w, j)}`, "u", memory) }),
          "point read": (w, j) => mastra.getThreadById({ threadId: `seed-${at(w, j)}` }),
          "list page of 20": (w, j) =>
            mastra.listThreads({
              filter: { resourceId: `user-${(w + j) % users}` },
              perPage: 20,
              page: 0,
              orderBy: { field: "createdAt", direction: "DESC" },
            }),
        },
      },
    ];
  };

  const sizes = [1, 8, 32];
  // results[callers][workload][contender] = [cpu µs per op samples, ops/s samples]
  const results = new Map<string, [number[], number[]]>();
  const key = (callers: number, workload: string, name: string) => `${callers}|${workload}|${name}`;
  for (const callers of sizes) {
    const list = contenders(callers);
    for (const workload of WORKLOADS) {
      for (const c of list) {
        const op = c.ops[workload];
        if (op) await run(op, callers, Math.min(32, perRound)); // warm-up
      }
      const started = performance.now();
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? list : [...list].reverse();
        for (const c of order) {
          const op = c.ops[workload];
          if (!op) continue;
          // Mastra's listing scans the table: fewer list pages keep the run short.
          const [cpu, rate] = await run(op, callers, workload === "list page of 20" ? perRound / 8 : perRound);
          const entry = results.get(key(callers, workload, c.name)) ?? [[], []];
          entry[0].push(cpu);
          entry[1].push(rate);
          results.set(key(callers, workload, c.name), entry);
        }
      }
      console.error(
        `libsql bench: ${callers} callers, ${workload}: ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
  await ours.close();
  await viaClient.close();
  client.close();
  db.close();
  await mastraStore.close();

  const names = contenders(1).map((c) => c.name);
  const cell = (callers: number, workload: string, name: string) => {
    const entry = results.get(key(callers, workload, name));
    return entry ? `${fmt(median(entry[0]))} µs · ${fmt(median(entry[1]))}/s` : "—";
  };
  const cpuOf = (callers: number, workload: string, name: string) => {
    const entry = results.get(key(callers, workload, name));
    return entry ? median(entry[0]) : NaN;
  };
  const rateOf = (callers: number, workload: string, name: string) => {
    const entry = results.get(key(callers, workload, name));
    return entry ? median(entry[1]) : NaN;
  };
  const rows: string[][] = [];
  for (const callers of sizes) {
    for (const workload of WORKLOADS) {
      rows.push([
        `${callers}`,
        workload,
        ...names.map((n) => cell(callers, workload, n)),
      ]);
    }
  }
  const x = (n: number) => `${n.toFixed(2)}×`;
  const [us, floor, client_, mastraName] = names as [string, string, string, string];
  type Side = [callers: number, workload: Workload, name: string];
  // "ours ≥ k× theirs" in rate, and the same comparison in CPU µs per operation (theirs / ours).
  const faster = (ours: Side, theirs: Side) => [
    x(rateOf(...ours) / rateOf(...theirs)),
    x(cpuOf(...theirs) / cpuOf(...ours)),
  ];
  // "ours within k× of theirs" in time per operation: wall (theirs' rate / ours') and CPU (ours / theirs).
  const within = (ours: Side, theirs: Side) => [
    x(rateOf(...theirs) / rateOf(...ours)),
    x(cpuOf(...ours) / cpuOf(...theirs)),
  ];
  const targets = [
    ["single-caller upsert (update) ≥ 1.5× @mastra/libsql", ...faster([1, "update", us], [1, "update", mastraName])],
    ["single-caller upsert (update) time within 1.6× of the floor", ...within([1, "update", us], [1, "update", floor])],
    ["single-caller insert time within 1.6× of the floor", ...within([1, "insert", us], [1, "insert", floor])],
    ["32 callers (update) ≥ 2× @mastra/libsql", ...faster([32, "update", us], [32, "update", mastraName])],
    ["32 callers (update) ≥ 4× the @libsql/client path", ...faster([32, "update", us], [32, "update", client_])],
    [
      "moonshot: 32 callers (update) ≥ the floor's single caller",
      ...faster([32, "update", us], [1, "update", floor]),
    ],
    ["point read ≥ 3× @mastra/libsql", ...faster([1, "point read", us], [1, "point read", mastraName])],
    ["point read time within 1.3× of the floor", ...within([1, "point read", us], [1, "point read", floor])],
    [
      "list page time within 1.1× of the floor",
      ...within([1, "list page of 20", us], [1, "list page of 20", floor]),
    ],
  ];
  return `## libSQL embedded: LibsqlStorage vs the raw floor, the @libsql/client path and @mastra/libsql\n\n` +
    `${
      stored.toLocaleString("en-US")
    } sessions stored per contender (2 KB JSON memory, 50 users), each on its own file, ` +
    `WAL, synchronous=NORMAL. Per cell: CPU µs per operation (user + system, whole process) · operations per second ` +
    `(wall), medians of ${rounds} rounds of ${perRound} operations (list pages: ${
      perRound / 8
    }); the contenders alternate their order every round. ` +
    `"raw floor": the \`libsql\` package on the same schema with hand-written prepared statements and no validation ` +
    `(an update sets memory, updated_at and version under the owner check; reads parse the JSON column). ` +
    `"@libsql/client path": the same LibsqlStorage given a \`@libsql/client\` client (every statement compiled again, ` +
    `no lean update, no group commit). \`@mastra/libsql\` stores threads (resourceId ~ userId, metadata ~ memory) with ` +
    `saveThread, getThreadById and listThreads by resource; it has no expectedVersion. Callers: that many concurrent ` +
    `loops, each awaiting its own operations (updates: each caller on its own sessions).\n\n` +
    table(["callers", "workload", ...names], rows) + "\n\n" +
    `Issue 15 targets, from this run, measured twice: by wall clock (ops/s; what the targets name, but on a loaded ` +
    `shared machine a contender's rate depends on what else ran in its window) and by CPU µs per operation (steadier ` +
    `here). "≥ k×" compares speed (higher is better), "within k×" compares time per operation (lower is better):\n\n` +
    table(["target", "by wall clock", "by CPU µs per operation"], targets) + "\n";
}
