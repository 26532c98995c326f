/**
 * Subprocess for the Redis multi-process test:
 *
 *   increment <url> <prefix> <cycles>   read-increment-write of session "counter" with expectedVersion,
 *                                       retrying on conflict; prints {"writes":…,"conflicts":…}
 */
import { RedisStorage } from "../../backends/redis.ts";
import { incrementCounter } from "./increment.ts";

const [command, url, prefix, cycles] = Deno.args;
if (command !== "increment") throw new Error(`unknown command ${command}`);
await using storage = new RedisStorage({ url: url!, prefix: prefix! });
console.log(JSON.stringify(await incrementCounter(storage, Number(cycles))));
