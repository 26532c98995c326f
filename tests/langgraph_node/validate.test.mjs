// LangGraph's checkpointer validation suite, unmodified, run against AgentstateSaver built to JavaScript
// (AGENTSTATE_BUILD, default .build/agentstate.js, made by build.ts). Each checkpointer gets a new, empty storage.
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { AgentstateSaver, MemoryStorage } from "./.build/agentstate.js";

validate({
  checkpointerName: "AgentstateSaver(memory)",
  createCheckpointer: () => new AgentstateSaver({ storage: new MemoryStorage({ mode: "workflow" }) }),
  destroyCheckpointer: (saver) => saver.storage.close(),
});
