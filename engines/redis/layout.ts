/**
 * The layout version of a Redis storage and the move from the untagged
 * layout. Layout 3 puts every key of a storage under one hash tag,
 * `{<prefix>}:<mode>:`, so every script's keys hash to one slot (Redis
 * Cluster, Dragonfly); earlier releases wrote the same keys under
 * `<prefix>:<mode>:`. The key `P layout` records the version; it is written
 * by the first storage that opens the keys, after moving any untagged keys
 * of the same prefix and mode to their tagged names.
 *
 * The move runs in scripts of {@linkcode MIGRATE_BATCH} sessions each, every
 * one atomic and safe to run again or at the same time from another process:
 * sessions are renamed (`RENAME` keeps their TTL) and added to the tagged
 * index of creation times one by one, then the other indexes, then the
 * write results, and the marker is written last. Until the marker is there,
 * every storage runs the move before its first operation, so nothing reads
 * half-moved keys. A Redis user whose ACL does not reach the untagged keys
 * (`~{tenant}:*`) skips the move and leaves the marker unwritten.
 *
 * @module
 */
import type { RedisScript } from "./client.ts";
import type { RedisKeys } from "./keys.ts";
import { PRELUDE } from "./lua.ts";
import { fail, script } from "./reply.ts";

/** The layout version these scripts write. */
export const LAYOUT_VERSION = 3;

/** How many sessions (or per-user and per-entity indexes) one move script renames. */
export const MIGRATE_BATCH = 500;

/**
 * KEYS: the marker, then the tagged indexes and write results (declared; the
 * sessions' keys are found in the untagged index). ARGV: P, the untagged
 * prefix ("": none can exist, as on a cluster), batch, version. Returns the
 * marker's version, or nil when there is more to move.
 */
const LAYOUT = PRELUDE + `
local OLD, batch, VERSION = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local marker = redis.call("GET", KEYS[1])
if marker then return marker end
local function move(from, to) if redis.call("EXISTS", from) == 1 then redis.call("RENAME", from, to) end end
if OLD ~= "" then
  -- A user whose ACL does not reach the untagged keys reads the tagged ones; the marker waits for one whose ACL does.
  local reach = redis.pcall("EXISTS", OLD .. "x:c", OLD .. "x:keys", OLD .. "x:u", OLD .. "o", OLD .. "ot")
  if type(reach) == "table" and reach.err then
    if string.find(reach.err, "NOPERM", 1, true) or string.find(reach.err, "can't access", 1, true) then return VERSION end
    return redis.error_reply(reach.err)
  end
end
if OLD ~= "" then
  local members = redis.call("ZRANGE", OLD .. "x:c", 0, batch - 1)
  for _, member in ipairs(members) do
    local id = string.sub(member, 17)
    move(OLD .. "s:" .. enc(id), skey(id))
    move(OLD .. "r:" .. enc(id), rkey(id))
    move(OLD .. "k:" .. enc(id), kkey(id))
    redis.call("ZADD", P .. "x:c", 0, member)
    redis.call("ZREM", OLD .. "x:c", member)
  end
  if #members > 0 then return false end
  local indexes = redis.call("SPOP", OLD .. "x:keys", batch)
  for _, key in ipairs(indexes) do
    if string.sub(key, 1, #OLD) == OLD then
      local to = P .. string.sub(key, #OLD + 1)
      move(key, to)
      redis.call("SADD", P .. "x:keys", to)
    end
  end
  if #indexes > 0 then return false end
  move(OLD .. "x:u", P .. "x:u")
  move(OLD .. "o", P .. "o")
  move(OLD .. "ot", P .. "ot")
end
redis.call("SET", KEYS[1], VERSION)
return VERSION
`;

/** One step of opening a storage's keys: the recorded version, or `null` when more keys are left to move. */
export const OPEN_LAYOUT: RedisScript<{ k: RedisKeys; legacyPrefix: string | null }, number | null> = script(
  "layout",
  LAYOUT,
  ({ k, legacyPrefix }) => ({
    keys: [k.layout(), ...k.globals(), ...k.ops()],
    args: [k.prefix, legacyPrefix ?? "", String(MIGRATE_BATCH), String(LAYOUT_VERSION)],
  }),
  (reply, name) => {
    if (reply === null) return null;
    const version = typeof reply === "string" && /^\d{1,6}$/.test(reply) ? Number(reply) : NaN;
    return Number.isSafeInteger(version) ? version : fail(name, reply);
  },
);
