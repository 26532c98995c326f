// LangGraph's checkpointer validation suite, unmodified, on AgentstateSaver over MemoryStorage (plain and
// encrypted), from the JavaScript build in .build/ (made by tests/support/langgraph_suite.ts). Runs on Node or Deno.
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { AgentstateSaver, MemoryStorage } from "./.build/agentstate.js";

validate({
  checkpointerName: "AgentstateSaver(memory)",
  createCheckpointer: () => new AgentstateSaver({ storage: new MemoryStorage({ mode: "workflow" }) }),
  destroyCheckpointer: (saver) => saver.storage.close(),
});

validate({
  checkpointerName: "AgentstateSaver(memory, encrypted)",
  createCheckpointer: () =>
    new AgentstateSaver({
      storage: new MemoryStorage({ mode: "workflow", encryptionKey: crypto.getRandomValues(new Uint8Array(32)) }),
    }),
  destroyCheckpointer: (saver) => saver.storage.close(),
});
