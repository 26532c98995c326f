import { runConformance } from "./conformance.ts";
import { memoryBackend } from "./support/backends.ts";

runConformance(memoryBackend());
