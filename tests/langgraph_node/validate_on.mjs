// Runs LangGraph's validation suite, unmodified, on AgentstateSaver from the npm build (installed into
// node_modules/@agentstate/storage by tests/support/langgraph_suite.ts) over storages `open` makes: a new, empty one
// per checkpointer; `open` returns the storage and what removes it afterwards.
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { AgentstateSaver } from "@agentstate/storage/langgraph";

/** `open(n)` makes the n-th storage (workflow mode) and returns `{ storage, remove? }`. */
export function validateOn(checkpointerName, open) {
  const removers = new Map();
  let count = 0;
  validate({
    checkpointerName,
    createCheckpointer: async () => {
      const { storage, remove } = await open(++count);
      const saver = new AgentstateSaver({ storage });
      if (remove) removers.set(saver, remove);
      return saver;
    },
    destroyCheckpointer: async (saver) => {
      await saver.storage.close();
      await removers.get(saver)?.();
      removers.delete(saver);
    },
  });
}
