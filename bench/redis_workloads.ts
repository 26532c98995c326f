/** The Redis bench's workloads and command counting, shared by the standalone, REST and cluster runs. */
import type { RedisStorage } from "../backends/redis.ts";
import type { UpstashRedisStorage } from "../backends/upstash.ts";
import type { JsonObject } from "../session/types.ts";
import { RespConnection } from "../tests/support/upstash_bridge.ts";

/** A storage of the Redis engine (TCP or REST). */
export type RedisEngineStorage = RedisStorage | UpstashRedisStorage;

/** One named operation, called with an iteration number. */
export type Workload = [string, (s: RedisEngineStorage, i: number) => Promise<unknown>];

/** Fills `storage` with sessions `s<from>`…`s<to - 1>`, a quarter of them per user `u0`…`u3`. */
export async function fill(storage: RedisEngineStorage, from: number, to: number, memory: JsonObject): Promise<void> {
  for (let at = from; at < to; at += 500) {
    await storage.upsertMany(
      Array.from(
        { length: Math.min(500, to - at) },
        (_, i) => ({ sessionId: `s${at + i}`, userId: `u${(at + i) % 4}`, memory }),
      ),
    );
  }
}

let turns = 0;

/** The operations measured at a store of `size` sessions; `cursor` is user u3's second page. */
export function workloads(size: number, cursor: string, memory: JsonObject): Workload[] {
  return [
    ["read", (s, i) => s.read(`s${Math.abs(i) % size}`)],
    [
      "upsert",
      (s, i) => s.upsert({ sessionId: `s${Math.abs(i) % size}`, userId: `u${Math.abs(i) % size % 4}`, memory }),
    ],
    ["list page of 20 (newest first)", (s) => s.listSessions({ limit: 20 })],
    ["list page of 20 by user (a quarter)", (s) => s.listSessions({ userId: "u3", limit: 20 })],
    ["next page by user (cursor)", (s) => s.listSessions({ userId: "u3", limit: 20, cursor })],
    [
      "chat turn (2 keyed runs)",
      (s) => {
        const n = turns++; // fresh keys: a repeated key would be a replay, which writes nothing
        return s.appendRuns("turns", [{ q: n }, { a: n }], { keys: [`q${n}`, `a${n}`], create: true });
      },
    ],
  ];
}

/**
 * Runs `work` once after `CONFIG RESETSTAT` on every port and returns what
 * Redis counted (`INFO commandstats`, summed over the ports): the commands
 * the client sent (EVALSHA, EVAL, SCRIPT LOAD) and those the script ran.
 */
export async function countCommands(
  ports: number[],
  work: () => Promise<unknown>,
): Promise<{ sent: number; inside: number }> {
  const admins = await Promise.all(ports.map((port) => RespConnection.connect(port)));
  try {
    for (const admin of admins) await admin.send(["CONFIG", "RESETSTAT"]);
    await work();
    let sent = 0;
    let inside = 0;
    for (const admin of admins) {
      const info = new TextDecoder().decode(await admin.send(["INFO", "commandstats"]) as Uint8Array);
      for (const [, name, calls] of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
        if (/^(info|config\|resetstat)$/.test(name!)) continue;
        if (/^(evalsha|eval|script\|load)$/.test(name!)) sent += Number(calls);
        else inside += Number(calls);
      }
    }
    return { sent, inside };
  } finally {
    for (const admin of admins) await admin.close();
  }
}
