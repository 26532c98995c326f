// The validation suite on JsonStorage, a new temporary directory per checkpointer.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonStorage } from "@agentstate/storage/json";
import { validateOn } from "./validate_on.mjs";

validateOn("AgentstateSaver(json)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "agentstate-langgraph-json-"));
  return { storage: new JsonStorage({ mode: "workflow", dir }), remove: () => rm(dir, { recursive: true }) };
});
