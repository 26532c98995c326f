/**
 * What the vitest files of tests/langgraph_node/ import from the JavaScript build: the saver and the backends
 * the validation suite runs on.
 *
 * @module
 */
export { AgentstateSaver } from "../../adapters/langgraph.ts";
export { MemoryStorage } from "../../backends/memory.ts";
export { JsonStorage } from "../../backends/json.ts";
export { IndexedDbStorage } from "../../backends/indexeddb.ts";
