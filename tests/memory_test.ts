import { MemoryStorage } from "../backends/memory.ts";
import { runConformance } from "./conformance.ts";

// Memory storages cannot share a place: each instance is its own store.
runConformance({
  name: "memory",
  create: (options) => Promise.resolve(new MemoryStorage(options)),
});
