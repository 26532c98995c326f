// The validation suite on IndexedDbStorage over fake-indexeddb, a new factory (so an empty database) per checkpointer.
import { IndexedDbStorage } from "@agentstate/storage/indexeddb";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import { validateOn } from "./validate_on.mjs";

validateOn("AgentstateSaver(indexeddb)", () => ({
  storage: new IndexedDbStorage({ mode: "workflow", indexedDB: new IDBFactory(), keyRange: IDBKeyRange }),
}));
