/**
 * The test servers the Node and Bun runners (tests/node/conformance.mjs) use,
 * started here under Deno from the repository's own test support: a real
 * redis-server behind the Upstash REST bridge, and Hrana (libSQL over HTTP)
 * servers started on demand, one database per place.
 *
 * Prints one JSON line, `{ "upstash": { url, token }, "hrana": controlUrl,
 * "hranaToken" }`, then serves until stdin closes; then stops everything.
 * `GET <controlUrl>/<place>` answers the URL of that place's Hrana server
 * (started on first use); `DELETE <controlUrl>/` stops them all.
 *
 * Usage: deno run --allow-all tests/node/services.ts
 */
import { type HranaServer, startHranaServer } from "../support/hrana_server.ts";
import { tempDir } from "../support/temp.ts";
import { startRedisServer, startUpstashBridge } from "../support/upstash_bridge.ts";

const token = "test-token";
const redis = await startRedisServer();
const bridge = await startUpstashBridge({ redisPort: redis.port });
const dir = await tempDir("node-services");
const hrana = new Map<string, Promise<HranaServer>>();
const control = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  if (request.method === "DELETE") {
    for (const server of hrana.values()) await (await server).stop();
    hrana.clear();
    return new Response("stopped");
  }
  const place = new URL(request.url).pathname.slice(1);
  if (!/^\w+$/.test(place)) return new Response("bad place", { status: 400 });
  let server = hrana.get(place);
  if (!server) {
    server = Deno.writeFile(`${dir.path}/${place}.db`, new Uint8Array())
      .then(() => startHranaServer({ path: `${dir.path}/${place}.db`, token }));
    hrana.set(place, server);
  }
  return new Response((await server).url);
});
console.log(JSON.stringify({
  upstash: { url: bridge.url, token: bridge.token },
  hrana: `http://127.0.0.1:${control.addr.port}`,
  hranaToken: token,
}));
for await (const _ of Deno.stdin.readable) {
  // Serve until the runner closes stdin.
}
await control.shutdown();
for (const server of hrana.values()) await (await server).stop();
await bridge.stop();
await redis.stop();
await dir.remove();
