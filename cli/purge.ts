/** `purge`: deletes the sessions not written for a given time, with their runs. */
import { SESSION_MODES, type SessionMode, type StorageOf } from "../mod.ts";
import { modeOf, open, parse, print, str, TTL_OPTION, ttlOf } from "./args.ts";
import { UsageError } from "./errors.ts";
import { sessionPages } from "./pages.ts";
import { time } from "./text.ts";

/**
 * How many sessions of `storage` (opened without a TTL) were last written at or before `liveAfter`: pages of the
 * listing by `updatedAt`, oldest first, up to the first live one (so it reads the expired sessions and one page more).
 */
async function countExpired(storage: StorageOf<SessionMode>, liveAfter: number): Promise<number> {
  let count = 0;
  for await (const sessions of sessionPages(storage, "updatedAt", 1000)) {
    const expired = sessions.findIndex((s) => s.updatedAt > liveAfter);
    count += expired === -1 ? sessions.length : expired;
    if (expired !== -1) break;
  }
  return count;
}

/**
 * `purge <url> --ttl D [--dry-run]`: in every mode unless `--mode`, deletes the sessions not written for `D` with the
 * storage's own `purgeExpired` (the expiry rule of `ttlMs`: expired when `updatedAt <= now - ttl`).
 */
export async function purge(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    "dry-run": { type: "boolean", short: "n", default: false },
    ...TTL_OPTION,
  });
  if (positionals.length !== 1) throw new UsageError("purge takes one storage URL");
  const ttlMs = ttlOf(values);
  if (ttlMs === undefined) {
    throw new UsageError("purge needs --ttl (e.g. --ttl 30d): sessions not written for that long are deleted");
  }
  const dryRun = values["dry-run"] === true;
  const modes = values.mode === undefined ? SESSION_MODES : [modeOf(values.mode)];
  const verb = dryRun ? "would delete" : "deleted";
  let total = 0;
  let liveAfter = 0;
  for (const mode of modes) {
    liveAfter = Date.now() - ttlMs;
    let count: number;
    if (dryRun) {
      await using storage = await open(positionals[0], values, { mode, mustExist: true });
      count = await countExpired(storage, liveAfter);
    } else {
      await using storage = await open(positionals[0], values, { mode, mustExist: true, ttlMs });
      count = await storage.purgeExpired();
    }
    total += count;
    print(`${mode}: ${verb} ${count} session(s)`);
  }
  print(
    `${verb} ${total} session(s) not written since ${time(liveAfter)} UTC (--ttl ${str(values, "ttl")})` +
      (dryRun ? "; dry run: nothing was deleted" : ""),
  );
}
