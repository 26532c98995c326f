/**
 * Per-turn cost of a growing conversation: `appendRuns` (writes only the new
 * turn) against the whole-blob `upsert` of a growing `memory.runs` array.
 */
import type { SessionStorage } from "../session/types.ts";
import { measure, table } from "./harness.ts";
import type { SectionOptions } from "./libsql_bench.ts";

/** A storage factory for one backend, given a scratch directory. */
// deno-lint-ignore no-explicit-any
export type StorageFactory = (dir: string, name: string) => SessionStorage<any, any>;

function turn(n: number) {
  return { turn: n, user: `question ${n} `.repeat(12), assistant: `answer ${n} `.repeat(24) };
}

/** Measures per-turn time and bytes at several conversation lengths on each backend. */
export async function runsSection(
  { smoke, dir }: SectionOptions,
  backends: [string, StorageFactory][],
): Promise<string> {
  const lengths = smoke ? [10, 100] : [10, 1000, 10_000];
  const turnsMeasured = smoke ? 5 : 20;
  const rows: (string | number)[][] = [];
  for (const [name, factory] of backends) {
    for (const length of lengths) {
      const storage = factory(dir, `${name}-${length}`);
      const prior = Array.from({ length: length - 1 }, (_, i) => turn(i + 1));
      // The run log: imported in one go, then measured turn by turn.
      await storage.importSessions([{
        session: { sessionId: "log", createdAt: 1, updatedAt: 1, version: 1 },
        runs: prior.map((run, i) => ({ seq: i + 1, createdAt: 1, run })),
      }]);
      let next = length;
      const append = await measure(`append`, () => storage.appendRuns("log", [turn(next++)]), turnsMeasured, 2);
      // The blob: the whole history rewritten on every turn.
      const history = [...prior];
      await storage.upsert({ sessionId: "blob", memory: { runs: history } });
      const blob = await measure(
        `blob`,
        () => {
          history.push(turn(history.length + 1));
          return storage.upsert({ sessionId: "blob", memory: { runs: history } });
        },
        turnsMeasured,
        2,
      );
      const turnBytes = JSON.stringify(turn(length)).length;
      const blobBytes = JSON.stringify({ runs: history }).length;
      rows.push([name, length.toLocaleString("en-US"), append.meanMs, turnBytes, blob.meanMs, blobBytes]);
      await storage.drop();
      await storage.close();
    }
  }
  const body = table(
    ["backend", "turn", "appendRuns ms/turn", "appendRuns bytes/turn", "blob upsert ms/turn", "blob upsert bytes/turn"],
    rows,
  );
  const ratio = (backend: string) => {
    const r = rows.filter((row) => row[0] === backend);
    return (Number(r.at(-1)![2]) / Number(r[0]![2])).toFixed(2);
  };
  const summary = backends.map(([name]) =>
    `${name}: appendRuns at turn ${lengths.at(-1)} costs ${ratio(name)}× turn 10`
  )
    .join("; ");
  return `## Run log: per-turn cost as a conversation grows\n\nEach turn is a ~${
    JSON.stringify(turn(1)).length
  }-byte JSON run. "bytes/turn" is the JSON the storage is given to write for that turn. ` +
    `Mean of ${turnsMeasured} turns at each length. Target: appendRuns at turn 10 000 within 2× of turn 10. ` +
    `${summary}.\n\n${body}\n`;
}
