import { runRunLogCases } from "./runlog_cases.ts";
import { memoryBackend } from "./support/backends.ts";

runRunLogCases(memoryBackend());
