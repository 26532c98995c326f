/**
 * Subprocess for the PostgreSQL multi-process test:
 *
 *   increment <url> <schema> <cycles>   read-increment-write of session "counter" with expectedVersion,
 *                                       retrying on conflict; prints `{ "writes": n, "conflicts": n }`
 */
import { PostgresStorage } from "../../backends/postgres.ts";
import { incrementCounter } from "./increment.ts";

const [command, url, schema, cycles] = Deno.args;
if (command !== "increment") throw new Error(`unknown command ${command}`);
await using storage = new PostgresStorage({ url: url!, schema: schema!, poolSize: 1 });
console.log(JSON.stringify(await incrementCounter(storage, Number(cycles))));
