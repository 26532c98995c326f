import { PROPERTY_RUNS, runPropertyTests } from "./property.ts";
import { CONFIGURATIONS } from "./support/backends.ts";

for (const { make, skip } of CONFIGURATIONS) {
  runPropertyTests(make(), { runs: PROPERTY_RUNS, ignore: await skip?.() ?? false });
}
