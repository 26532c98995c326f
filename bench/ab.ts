/**
 * A/B(/C…) measurement of client libraries doing the same operation against
 * the same server in one process: rounds alternate the contenders (rotating
 * who goes first), so drift and noise on a shared machine hit all of them
 * alike. Reports the process CPU time per operation (user + system, all
 * threads: what the client costs its host) and the wall-clock median.
 */
import process from "node:process";
import { table } from "./harness.ts";

/** One library doing the operation. */
export interface Contender {
  /** Shown in the table. */
  name: string;
  /** One operation; `i` counts up from 0 across rounds (negative during warm-up). */
  op: (i: number) => Promise<unknown>;
}

/** What {@linkcode alternate} measured for one contender. */
export interface AbResult {
  /** The contender's name. */
  name: string;
  /** Median over rounds of the process CPU µs per operation. */
  cpuUsPerOp: number;
  /** Median wall-clock µs of one operation, over all operations. */
  wallMedianUs: number;
}

/** How long {@linkcode alternate} runs. */
export interface AbOptions {
  /** Rounds; each runs every contender once, in rotated order. */
  rounds: number;
  /** Operations per contender per round. */
  perRound: number;
  /** Operations per contender before measuring. */
  warmup: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Measures every contender, alternating them round by round. */
export async function alternate(contenders: Contender[], options: AbOptions): Promise<AbResult[]> {
  for (const contender of contenders) {
    for (let i = 0; i < options.warmup; i++) await contender.op(-1 - i);
  }
  const cpu = contenders.map((): number[] => []);
  const wall = contenders.map((): number[] => []);
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const index = (round + k) % contenders.length;
      const contender = contenders[index]!;
      const before = process.cpuUsage();
      for (let n = 0; n < options.perRound; n++) {
        const start = performance.now();
        await contender.op(round * options.perRound + n);
        wall[index]!.push((performance.now() - start) * 1000);
      }
      const used = process.cpuUsage(before);
      cpu[index]!.push((used.user + used.system) / options.perRound);
    }
  }
  return contenders.map((contender, index) => ({
    name: contender.name,
    cpuUsPerOp: median(cpu[index]!),
    wallMedianUs: median(wall[index]!),
  }));
}

/** One Markdown table row per (workload, contender). */
export function abTable(results: [workload: string, AbResult[]][]): string {
  const rows = results.flatMap(([workload, list]) =>
    list.map((r): (string | number)[] => [workload, r.name, r.cpuUsPerOp, r.wallMedianUs])
  );
  return table(["workload", "client", "CPU µs / op", "wall median µs"], rows);
}
