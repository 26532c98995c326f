/** Tiny benchmark harness: runs workloads side by side and renders Markdown tables. */
import type { JsonObject } from "../session/types.ts";

/** One measured workload. */
export interface Measurement {
  /** What was measured. */
  name: string;
  /** Operations per second. */
  opsPerSec: number;
  /** Mean time per operation in milliseconds. */
  meanMs: number;
  /** Median time per operation in milliseconds. */
  p50Ms: number;
}

/** Runs `fn` `iterations` times (after `warmup` runs) and measures each call. */
export async function measure(
  name: string,
  fn: (i: number) => Promise<unknown>,
  iterations: number,
  warmup = Math.min(20, iterations),
): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn(i);
    times.push(performance.now() - t);
  }
  const total = performance.now() - start;
  times.sort((a, b) => a - b);
  return {
    name,
    opsPerSec: iterations / (total / 1000),
    meanMs: total / iterations,
    p50Ms: times[Math.floor(times.length / 2)]!,
  };
}

/** Formats a number with 3 significant digits. */
export function fmt(n: number): string {
  if (n >= 1000) return Math.round(n).toLocaleString("en-US");
  return Number(n.toPrecision(3)).toString();
}

/** A Markdown table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => typeof c === "number" ? fmt(c) : c).join(" | ")} |`;
  return [line(headers), `|${headers.map(() => "---").join("|")}|`, ...rows.map(line)].join("\n");
}

/** A realistic session payload of about `kb` kilobytes of JSON. */
export function payload(kb: number, seed = 0): JsonObject {
  const messages = [];
  let size = 0;
  for (let i = 0; size < kb * 1024; i++) {
    const m = {
      role: i % 2 ? "assistant" : "user",
      content: `message ${seed}-${i} `.repeat(8),
      at: 1_700_000_000_000 + i,
    };
    size += JSON.stringify(m).length;
    messages.push(m);
  }
  return { messages, summary: `session ${seed}` };
}

/** A Mastra thread standing in for a session: `resourceId` plays `userId`, `metadata` plays `memory`. */
export function mastraThread(id: string, resourceId: string, metadata: JsonObject) {
  return { id, resourceId, title: id, createdAt: new Date(), updatedAt: new Date(), metadata };
}
