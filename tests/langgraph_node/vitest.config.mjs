// The validation suite calls describe/it/expect as globals.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { globals: true, include: ["*.test.mjs"], testTimeout: 30000, hookTimeout: 30000 },
});
