/**
 * An {@linkcode SqlExecutor} over a `pg` pool: a statement runs on any
 * pooled connection, a batch or transaction on one connection between
 * `BEGIN` and `COMMIT`. When the connection dies with the reply to `COMMIT`,
 * the transaction's status (`txid_status`) tells whether it committed: if so
 * its results are returned, as if the reply had arrived. Strings are sent as UTF-8 bytes (binary
 * parameters), `bigint` columns come back as numbers.
 *
 * @module
 */
import type { Pool, PoolClient, QueryConfig, QueryResult } from "pg";
import {
  type SqlExecutor,
  type SqlQueryable,
  SqlRefusedError,
  type SqlResult,
  type SqlRow,
  type SqlStatement,
  type SqlStep,
} from "../../engines/sql/executor.ts";

/** PostgreSQL's type oid of `bigint` (`int8`). */
const INT8 = 20;

/** The part of a `pg` client or pool that runs a query. */
type Runner = Pick<PoolClient, "query">;

const WRITES = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

/** Text goes as its UTF-8 bytes (ids are `bytea`); `pg` sends byte views as they are (no `node:buffer` import, so a
 * Worker bundle that reaches this module through the registry still loads). */
function toParam(value: SqlStatement["args"][number]): unknown {
  return typeof value === "string" ? new TextEncoder().encode(value) : value;
}

/** The driver's type parsers (`pg.types`). */
export interface TypeParsers {
  /** The parser of a column type. */
  getTypeParser(oid: number, format?: "text" | "binary"): (value: string) => unknown;
}

/**
 * How many distinct statements this process prepares by name on a
 * connection (the server keeps them while the connection lives); later
 * ones run unnamed, parsed each time.
 */
export const PREPARED_STATEMENTS = 200;

/**
 * Statement names by SQL text, shared by every executor: storages sharing a
 * caller's pool use one name per text, as `pg` requires on a connection.
 */
const names = new Map<string, string>();

/** The name `sql` is prepared under, while fewer than {@linkcode PREPARED_STATEMENTS} are named. */
function nameOf(sql: string): string | undefined {
  let name = names.get(sql);
  if (name === undefined && names.size < PREPARED_STATEMENTS) names.set(sql, name = `agentstate_${names.size}`);
  return name;
}

/**
 * Runs one statement, by `name` when given (prepared once per connection);
 * without arguments as a simple query, which may hold several statements (one transaction).
 */
async function run(runner: Runner, statement: SqlStatement, types: TypeParsers, name?: string): Promise<SqlResult> {
  const config: QueryConfig = statement.args.length === 0
    ? { text: statement.sql, types }
    : { text: statement.sql, values: statement.args.map(toParam), types, ...(name ? { name } : {}) };
  const result = await runner.query(config) as QueryResult | QueryResult[];
  const last = Array.isArray(result) ? result[result.length - 1]! : result;
  return {
    rows: last.rows as SqlRow[],
    rowsAffected: WRITES.has(last.command) ? last.rowCount ?? 0 : 0,
  };
}

/** How long a transaction whose COMMIT reply was lost is watched while the server still runs it. */
const IN_DOUBT_WAIT_MS = 5_000;

/** Statements through a `pg` pool; `close()` ends the pool when this executor made it. */
export class PostgresExecutor implements SqlExecutor {
  readonly #pool: Pool;
  readonly #owned: boolean;
  readonly #types: TypeParsers;

  /** Runs on `pool` with the driver's parsers but `bigint` read as a number; ends the pool on `close()` when `owned`. */
  constructor(pool: Pool, owned: boolean, parsers: TypeParsers) {
    this.#pool = pool;
    this.#owned = owned;
    this.#types = {
      getTypeParser: (oid, format) =>
        oid === INT8 && format !== "binary" ? parseBigint : parsers.getTypeParser(oid, format),
    };
  }

  query(statement: SqlStatement): Promise<SqlResult> {
    return run(this.#pool, statement, this.#types, nameOf(statement.sql));
  }

  batch(steps: SqlStep[]): Promise<SqlResult[]> {
    return this.transaction(async (tx) => {
      const results: SqlResult[] = [];
      for (const step of steps) {
        const result = await tx.query(step);
        if (step.mustChange && result.rowsAffected === 0) throw new SqlRefusedError();
        if (step.mustReturn && result.rows.length === 0) throw new SqlRefusedError();
        results.push(result);
      }
      return results;
    });
  }

  async transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    // A checked-out connection the server drops reports it as an event too (the pool listens only to idle ones).
    const dropped = (error: Error) => broken = error;
    client.on("error", dropped);
    let inDoubt: { xid: string; result: T; failure: Error } | undefined;
    try {
      // The transaction's id comes with BEGIN (one round trip), so a lost COMMIT reply can be looked up.
      const begun = await client.query("BEGIN; SELECT txid_current()::text AS xid") as unknown as QueryResult[];
      const xid = String(begun[1]!.rows[0].xid);
      const result = await work({
        query: (statement) => run(client, statement, this.#types, nameOf(statement.sql)),
      });
      try {
        await client.query("COMMIT");
        return result;
      } catch (error) {
        broken ??= error as Error;
        inDoubt = { xid, result, failure: error as Error };
      }
    } catch (error) {
      // A connection that cannot roll back is dropped from the pool, not reused.
      if (broken === undefined) await client.query("ROLLBACK").catch((rollback: Error) => broken = rollback);
      throw error;
    } finally {
      client.off("error", dropped);
      client.release(broken);
    }
    // Asked once the connection is back in the pool (a pool of one would wait for it forever).
    if (await this.#committed(inDoubt.xid)) return inDoubt.result;
    throw inDoubt.failure;
  }

  /**
   * Whether transaction `xid`, whose COMMIT failed, committed anyway (the
   * reply was lost with its connection): asked on another connection, waiting
   * up to {@linkcode IN_DOUBT_WAIT_MS} while it is still in progress. `false`
   * when it rolled back or nothing can tell (the failure is then reported).
   */
  async #committed(xid: string): Promise<boolean> {
    const deadline = Date.now() + IN_DOUBT_WAIT_MS;
    for (;;) {
      const status = await this.#pool.query("SELECT txid_status($1::bigint) AS status", [xid])
        .then((result) => result.rows[0]?.status as string | null, () => null);
      if (status !== "in progress" || Date.now() > deadline) return status === "committed";
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#pool.end();
  }
}

/** A `bigint` column as a number (counts, versions and epoch milliseconds stay below 2^53). */
function parseBigint(text: string): number {
  return Number(text);
}
