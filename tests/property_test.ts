import { PROPERTY_RUNS, runPropertyTests } from "./property.ts";
import {
  indexedDbBackend,
  jsonBackend,
  libsqlFileBackend,
  libsqlMemoryBackend,
  libsqlRemoteBackend,
  skipRedis,
  upstashBackend,
} from "./support/backends.ts";

runPropertyTests(libsqlMemoryBackend(), { runs: PROPERTY_RUNS });
runPropertyTests(libsqlFileBackend(), { runs: PROPERTY_RUNS });
runPropertyTests(libsqlRemoteBackend(), { runs: PROPERTY_RUNS });
runPropertyTests(jsonBackend(), { runs: PROPERTY_RUNS });
runPropertyTests(indexedDbBackend(), { runs: PROPERTY_RUNS });
runPropertyTests(upstashBackend(), { runs: PROPERTY_RUNS, ignore: await skipRedis() });
