import { type Client, createClient } from "@libsql/client";
import { LibsqlStorage } from "../backends/libsql.ts";
import { runConformance } from "./conformance.ts";
import { tempDir } from "./support/temp.ts";

// `:memory:` databases live on one connection: storages sharing a place share a client.
const memoryClients = new Map<string, Client>();
runConformance({
  name: "libsql :memory:",
  create(options, place) {
    let client = memoryClients.get(place);
    if (!client) memoryClients.set(place, client = createClient({ url: ":memory:" }));
    return Promise.resolve(new LibsqlStorage({ ...options, client }));
  },
  teardown() {
    for (const client of memoryClients.values()) client.close();
    return Promise.resolve();
  },
});

const dir = await tempDir("libsql-file");
runConformance({
  name: "libsql file",
  create: (options, place) => Promise.resolve(new LibsqlStorage({ ...options, url: `file:${dir.path}/${place}.db` })),
  teardown: () => dir.remove(),
});
