// The validation suite on MemoryStorage, plain and encrypted.
import { MemoryStorage } from "@agentstate/storage/memory";
import { validateOn } from "./validate_on.mjs";

validateOn("AgentstateSaver(memory)", () => ({ storage: new MemoryStorage({ mode: "workflow" }) }));

validateOn("AgentstateSaver(memory, encrypted)", () => ({
  storage: new MemoryStorage({ mode: "workflow", encryptionKey: crypto.getRandomValues(new Uint8Array(32)) }),
}));
