// The validation suite on LibsqlStorage over an embedded database file, a new file per checkpointer.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibsqlStorage } from "@agentstate/storage/libsql";
import { validateOn } from "./validate_on.mjs";

validateOn("AgentstateSaver(libsql file)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "agentstate-langgraph-libsql-"));
  return {
    storage: new LibsqlStorage({ mode: "workflow", url: `file:${join(dir, "checkpoints.db")}` }),
    remove: () => rm(dir, { recursive: true }),
  };
});
