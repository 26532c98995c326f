// LangGraph's checkpointer validation suite, unmodified, on AgentstateSaver over IndexedDbStorage with
// fake-indexeddb (a new, empty database per checkpointer), from the JavaScript build in .build/. Runs on Node.
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import { AgentstateSaver, IndexedDbStorage } from "./.build/agentstate.js";

validate({
  checkpointerName: "AgentstateSaver(indexeddb)",
  createCheckpointer: () =>
    new AgentstateSaver({
      storage: new IndexedDbStorage({ mode: "workflow", indexedDB: new IDBFactory(), keyRange: IDBKeyRange }),
    }),
  destroyCheckpointer: (saver) => saver.storage.close(),
});
