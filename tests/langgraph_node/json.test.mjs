// LangGraph's checkpointer validation suite, unmodified, on AgentstateSaver over JsonStorage (a new, empty
// directory per checkpointer), from the JavaScript build in .build/. JsonStorage uses Deno's file APIs (OS file
// locks), so this file runs under Deno: `deno run -A node_modules/vitest/vitest.mjs run json`.
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { AgentstateSaver, JsonStorage } from "./.build/agentstate.js";

const dirs = new Map();

validate({
  checkpointerName: "AgentstateSaver(json)",
  createCheckpointer: async () => {
    const dir = await Deno.makeTempDir({ prefix: "agentstate-langgraph-" });
    const saver = new AgentstateSaver({ storage: new JsonStorage({ mode: "workflow", dir }) });
    dirs.set(saver, dir);
    return saver;
  },
  destroyCheckpointer: async (saver) => {
    await saver.storage.close();
    await Deno.remove(dirs.get(saver), { recursive: true });
  },
});
