/**
 * What each Redis TCP client does in the cases the Redis backend depends on,
 * run for real from Deno: EVALSHA of an unknown script, the connection cut
 * after the server ran a write but before its reply arrived (is the write
 * reported as an error, or silently re-sent and run twice?), a 3-master
 * cluster with hash-tagged script keys, and TLS (`rediss://`). Run it alone:
 * `deno run --allow-all bench/redis_client_checks.ts`.
 */
import { Cluster as IoCluster, Redis } from "ioredis";
import { Cluster as ValkeyCluster, Redis as Valkey } from "iovalkey";
import { createClient, createCluster } from "@redis/client";
import { startRedisCluster } from "../tests/support/redis_cluster.ts";
import { freePort } from "../tests/support/ports.ts";
import { RespConnection, startRedisServer } from "../tests/support/upstash_bridge.ts";
import { table } from "./harness.ts";

/** The few calls every check needs, over one client. */
interface Probe {
  evalsha(sha: string, keys: string[], args: string[]): Promise<unknown>;
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
  close(): Promise<void> | void;
}

type Options = { tls?: { ca: string } };

const INCR = "return redis.call('INCR', KEYS[1])";

/** How to open each client (standalone or cluster) behind a {@linkcode Probe}. */
const CLIENTS: Record<
  string,
  { open(url: string, o?: Options): Promise<Probe>; cluster(urls: readonly string[]): Promise<Probe> }
> = {
  "@redis/client@5": {
    async open(url, o) {
      const client = createClient({ url, socket: o?.tls ? { tls: true, ca: o.tls.ca } : {} });
      client.on("error", () => {});
      await client.connect();
      return {
        evalsha: (sha, keys, args) => client.evalSha(sha, { keys, arguments: args }),
        eval: (script, keys, args) => client.eval(script, { keys, arguments: args }),
        close: () => client.destroy(),
      };
    },
    async cluster(urls) {
      const client = createCluster({ rootNodes: urls.map((url) => ({ url })) });
      client.on("error", () => {});
      await client.connect();
      return {
        evalsha: (sha, keys, args) => client.evalSha(sha, { keys, arguments: args }),
        eval: (script, keys, args) => client.eval(script, { keys, arguments: args }),
        close: () => client.destroy(),
      };
    },
  },
  ...ioFamily("ioredis@5", Redis, IoCluster),
  ...ioFamily("ioredis@5 (autoResendUnfulfilledCommands: false)", Redis, IoCluster, {
    autoResendUnfulfilledCommands: false,
  }),
  ...ioFamily("iovalkey@0.4", Valkey, ValkeyCluster),
};

/** ioredis and its fork iovalkey share one API. */
function ioFamily(
  name: string,
  Client: typeof Redis | typeof Valkey,
  ClusterClient: typeof IoCluster | typeof ValkeyCluster,
  extra: { autoResendUnfulfilledCommands?: boolean } = {},
): Record<
  string,
  { open(url: string, o?: Options): Promise<Probe>; cluster(urls: readonly string[]): Promise<Probe> }
> {
  const wrap = (client: Redis | Valkey | IoCluster | ValkeyCluster): Probe => ({
    evalsha: (sha, keys, args) => client.evalsha(sha, keys.length, ...keys, ...args),
    eval: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
    close: () => client.disconnect(),
  });
  return {
    [name]: {
      async open(url, o) {
        const client = new Client(url, { lazyConnect: true, ...extra, ...(o?.tls ? { tls: { ca: o.tls.ca } } : {}) });
        client.on("error", () => {});
        await client.connect();
        return wrap(client);
      },
      async cluster(urls) {
        const client = new ClusterClient(
          urls.map((url) => ({ host: "127.0.0.1", port: Number(new URL(url).port) })),
          { redisOptions: extra },
        );
        client.on("error", () => {});
        await new Promise((resolve, reject) => client.once("ready", resolve).once("error", reject));
        return wrap(client);
      },
    },
  };
}

/** How a call ended: its value, its error, or no answer within 5 s. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => timer = setTimeout(() => resolve("no answer after 5 s"), 5000));
  const settled = promise.then(
    (value) => `ok: ${JSON.stringify(value)}`,
    (error) => `error: ${String(error?.message ?? error)}`,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP proxy to `target` that can cut the next reply: the server has run the command, the client never hears. */
function cuttingProxy(target: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let cutNext = false;
  const pump = async (from: Deno.Conn, to: Deno.Conn, cuts: boolean) => {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        if (cuts && cutNext) {
          cutNext = false;
          break;
        }
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      }
    } catch {
      // the other side closed
    }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      open.delete(conn);
    }
  };
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
      open.add(client).add(server);
      pump(client, server, false);
      pump(server, client, true);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cutNextReply: () => cutNext = true,
    close() {
      listener.close();
      for (const conn of open) conn.close();
    },
  };
}

/** A self-signed certificate for 127.0.0.1, made with openssl. */
async function certificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const { success, stderr } = await new Deno.Command("openssl", {
    args: ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1"]
      .concat(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`openssl failed: ${new TextDecoder().decode(stderr)}`);
  return { cert, key };
}

/** Runs every check on every client; returns a Markdown table. */
export async function redisClientChecks(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "agentstate-redis-checks-" });
  const { cert, key } = await certificate(dir);
  const tlsPort = freePort();
  const server = await startRedisServer({
    args: ["--tls-port", String(tlsPort), "--tls-cert-file", cert, "--tls-key-file", key]
      .concat(["--tls-ca-cert-file", cert, "--tls-auth-clients", "no"]),
  });
  const direct = await RespConnection.connect(server.port);
  const proxy = cuttingProxy(server.port);
  await using cluster = await startRedisCluster();
  const rows: string[][] = [];
  try {
    for (const [name, client] of Object.entries(CLIENTS)) {
      const plain = await client.open(`redis://127.0.0.1:${server.port}`);
      const noscript = await outcome(plain.evalsha("0".repeat(40), ["k"], []));
      await plain.close();

      const counter = `cut:${name}`;
      const viaProxy = await client.open(`redis://127.0.0.1:${proxy.port}`);
      await viaProxy.eval("return 1", ["warm"], []);
      proxy.cutNextReply();
      const cut = await outcome(viaProxy.eval(INCR, [counter], []));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const runs = new TextDecoder().decode((await direct.send(["GET", counter])) as Uint8Array);
      const after = await outcome(viaProxy.eval("return 'alive'", ["k"], []));
      await viaProxy.close();

      const clustered = await client.cluster(cluster.urls);
      const placed: string[] = [];
      for (const tag of ["a", "b", "c", "d", "e"]) {
        const keys = [`{${tag}}:x`, `{${tag}}:y`, `{${tag}}:z`];
        await clustered.eval(
          "for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[i]) end return #KEYS",
          keys,
          ["1", "2", "3"],
        );
        const owner = await cluster.masterOf(keys[0]!);
        const on = await RespConnection.connect(owner);
        const seen = await on.send(["MGET", ...keys]);
        await on.close();
        placed.push(
          `${tag}→${owner}:${JSON.stringify((seen as Uint8Array[]).map((v) => new TextDecoder().decode(v)))}`,
        );
      }
      await clustered.close();
      const masters = new Set(await Promise.all(["a", "b", "c", "d", "e"].map((t) => cluster.masterOf(`{${t}}:x`))));

      const secure = await client.open(`rediss://127.0.0.1:${tlsPort}`, { tls: { ca: await Deno.readTextFile(cert) } });
      const tls = await outcome(secure.eval("return 'tls'", ["k"], []));
      await secure.close();

      rows.push([
        name,
        noscript,
        `${cut}; ran ${runs}×; next: ${after}`,
        `${masters.size} masters, ${placed.join(" ")}`,
        tls,
      ]);
    }
  } finally {
    proxy.close();
    await direct.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
  return table(["client", "EVALSHA unknown sha", "reply of a write cut off", "cluster, tagged keys", "TLS"], rows);
}

if (import.meta.main) console.log(await redisClientChecks());
