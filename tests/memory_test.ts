import { runConformance } from "./conformance/mod.ts";
import { memoryBackend } from "./support/backends.ts";

runConformance(memoryBackend());
