/**
 * A throwaway 3-master Redis Cluster on 127.0.0.1 for tests: three
 * `redis-server --cluster-enabled yes` (via {@linkcode startRedisServer}, on
 * free ports, each with its own free cluster-bus port and nodes file in a
 * temporary directory), joined with `redis-cli --cluster create
 * --cluster-replicas 0`, ready once every node reports `cluster_state:ok`.
 * Disposing it stops the nodes and removes the directory. A single plain
 * server is {@linkcode startRedisServer} itself.
 *
 * @module
 */
import { freePort } from "./ports.ts";
import { isRespError, type RedisServer, RespConnection, type RespValue, startRedisServer } from "./upstash_bridge.ts";

/** A running cluster. */
export interface RedisCluster extends AsyncDisposable {
  /** The three masters. */
  readonly nodes: readonly RedisServer[];
  /** `redis://127.0.0.1:<port>` of every node (any one is a seed for a cluster client). */
  readonly urls: readonly string[];
  /** The port of the master that serves `key`'s hash slot. */
  masterOf(key: string): Promise<number>;
  /** `key`'s hash slot (`CLUSTER KEYSLOT`) and the port of the master serving it (`CLUSTER SHARDS`). */
  placeOf(key: string): Promise<{ slot: number; port: number }>;
  /** Stops every node and removes the directory. Idempotent. */
  dispose(): Promise<void>;
}

const text = (value: RespValue): string =>
  value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value);

/** Sends one command on a fresh connection to `port`; throws a Redis error reply. */
async function command(port: number, args: string[]): Promise<RespValue> {
  const connection = await RespConnection.connect(port);
  try {
    const reply = await connection.send(args);
    if (isRespError(reply)) throw new Error(`${args.join(" ")} on port ${port}: ${reply.error}`);
    return reply;
  } finally {
    await connection.close();
  }
}

/** One cluster-enabled node; a port taken meanwhile by someone else is retried with new ones. */
async function startNode(dir: string): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const bus = freePort();
    if (bus === port) continue;
    try {
      return await startRedisServer({
        port,
        args: [
          "--cluster-enabled",
          "yes",
          "--cluster-port",
          String(bus),
          "--cluster-config-file",
          `${dir}/nodes-${port}.conf`,
          "--cluster-node-timeout",
          "3000",
          "--dir",
          dir,
        ],
      });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** Waits until `port` reports the whole cluster healthy (all slots, all nodes). */
async function waitHealthy(port: number, size: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  let info = "";
  while (Date.now() < deadline) {
    info = text(await command(port, ["CLUSTER", "INFO"]));
    if (
      /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info) &&
      new RegExp(`cluster_known_nodes:${size}\\b`).test(info)
    ) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the cluster node on port ${port} is not healthy after 30 s:\n${info}`);
}

/** Starts a 3-master cluster (no replicas); use it with `await using`. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await Deno.makeTempDir({ prefix: "agentstate-redis-cluster-" });
  const nodes: RedisServer[] = [];
  // If the test process exits without disposing, remove the directory (the nodes kill themselves on unload).
  const removeOnUnload = () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // best effort
    }
  };
  globalThis.addEventListener("unload", removeOnUnload);
  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> =>
    disposing ??= (async () => {
      globalThis.removeEventListener("unload", removeOnUnload);
      try {
        await Promise.all(nodes.map((node) => node.stop()));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    })();
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startNode(dir));
    const result = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...nodes.map((node) => `${node.hostname}:${node.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) {
      const output = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
      throw new Error(`redis-cli --cluster create failed (exit ${result.code}):\n${output.trim()}`);
    }
    for (const node of nodes) await waitHealthy(node.port, nodes.length);
  } catch (error) {
    await dispose().catch(() => {});
    throw error;
  }

  const placeOf = async (key: string): Promise<{ slot: number; port: number }> => {
    const port = nodes[0]!.port;
    const slot = Number(await command(port, ["CLUSTER", "KEYSLOT", key]));
    // CLUSTER SHARDS: per shard a map with "slots" (flat start/end pairs) and "nodes" (maps with "port", "role").
    const shards = await command(port, ["CLUSTER", "SHARDS"]) as RespValue[][];
    for (const shard of shards) {
      const field = (map: RespValue[], name: string) => map[map.findIndex((v) => text(v) === name) + 1];
      const slots = (field(shard, "slots") as RespValue[]).map(Number);
      for (let i = 0; i < slots.length; i += 2) {
        if (slots[i]! <= slot && slot <= slots[i + 1]!) {
          const master = (field(shard, "nodes") as RespValue[][]).find((n) => text(field(n, "role")!) === "master");
          return { slot, port: Number(field(master!, "port")) };
        }
      }
    }
    throw new Error(`no master serves slot ${slot} of ${JSON.stringify(key)}`);
  };
  const masterOf = async (key: string): Promise<number> => (await placeOf(key)).port;

  return {
    nodes,
    urls: nodes.map((node) => `redis://${node.hostname}:${node.port}`),
    masterOf,
    placeOf,
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
