import { runConformance } from "./conformance/mod.ts";
import { postgresBackend } from "./support/backends.ts";
import { skipWithoutPostgres } from "./support/postgres_server.ts";

const ignore = await skipWithoutPostgres("PostgreSQL tests");

runConformance(postgresBackend(), { ignore });
