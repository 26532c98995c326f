/**
 * The Lua scripts of the Redis engine: every write is one script, so it is
 * atomic and one round trip.
 *
 * Keys under `P = "{<prefix>}:<mode>:"` (one hash tag, so one slot; `layout.ts`
 * records the layout version in `P layout`), ids percent-encoded (`%xx` for every
 * byte outside `A-Za-z0-9-._~`), so an id never holds `:` or a glob character:
 *
 * - `P s:<id>`: hash `u` user, `n` name, `e` entity (absent when null; stored
 *   and returned behind a `=`, because the REST client's base64 decoding drops
 *   a leading U+FEFF), `c` createdAt, `m` updatedAt (15 digits), `v` version,
 *   `rc` run count (absent in layout 1: 0), `d` the other fields as JSON.
 * - `P r:<id>`: list of run records, JSON text
 *   `{"seq":…,"createdAt":…,"digest":…,"key":…,"run":…}` in this order (layout 1
 *   records lack `digest` and `key`: no key). The scripts read a record's
 *   digest and key by position, never re-encoding it.
 * - `P k:<id>`: hash of run key to seq, so a run is found by key in O(1).
 * - `P x:c`, `P x:u`: sorted sets (all scores 0, ordered by member) of
 *   `<15-digit createdAt or updatedAt>:<raw id>`, so a lexicographic range is a
 *   keyset page ordered by time, then by id bytes (code points).
 * - `P x:uc:<user>`, `P x:uu:<user>`, `P x:ec:<entity>`, `P x:eu:<entity>`: the
 *   same, per user and per entity; `P x:keys` lists them for `drop`.
 * - `P o`, `P ot`: the result of every write of the last {@linkcode OP_RETENTION_MS}
 *   by operation id (a hash), and when each was recorded (a sorted set). A
 *   write sent again with the same id (a lost reply re-sent by the HTTP stack
 *   or a retrying client) returns the recorded result and changes nothing.
 *
 * Calling conventions: `ARGV[1]` is `P`; a write's `ARGV[2]` is its operation
 * id and `KEYS[1]`, `KEYS[2]` are `P o`, `P ot`. `KEYS` also lists every other
 * key the caller can name before the call (the session's hash and run list,
 * its indexes); keys only found while running (a stored user's index, the
 * sessions of an index page) are built here with the same names. Those share
 * the declared keys' hash tag, so they are on the same slot: Redis Cluster
 * runs a script that touches undeclared keys of the slot its declared keys
 * are on (tests/redis_cluster_test.ts runs the conformance suite there).
 *
 * @module
 */

/** How long a write's result is kept for a re-sent request (ms). */
export const OP_RETENTION_MS = 300_000;

/**
 * Helpers every script starts with: key names, encodings, loading and storing
 * a session. The first line is Dragonfly's script flag for keys built inside
 * the script (a Lua comment elsewhere); `unpack` is `table.unpack` on Lua 5.4
 * (Dragonfly's).
 */
export const PRELUDE: string = `--!df flags=allow-undeclared-keys
local unpack = unpack or table.unpack
local P = ARGV[1]
local function enc(s) return (string.gsub(s, "[^%w%-%._~]", function(ch) return string.format("%%%02x", string.byte(ch)) end)) end
local function pad(n) return string.format("%015.0f", n) end
local function opt(s) if s == nil or s == "" then return nil end return string.sub(s, 2) end
local function num(s) if s == nil or s == "" then return nil end return tonumber(s) end
local function skey(id) return P .. "s:" .. enc(id) end
local function rkey(id) return P .. "r:" .. enc(id) end
local function kkey(id) return P .. "k:" .. enc(id) end
local function load(id)
  local r = redis.call("HMGET", skey(id), "u", "n", "e", "c", "m", "v", "rc")
  if not r[6] then return nil end
  return { u = opt(r[1] or nil), n = opt(r[2] or nil), e = opt(r[3] or nil), c = tonumber(r[4]), m = tonumber(r[5]),
           v = tonumber(r[6]), rc = tonumber(r[7] or "0") }
end
local function indexes(id, meta)
  local list = { { P .. "x:c", pad(meta.c) }, { P .. "x:u", pad(meta.m) } }
  if meta.u then
    table.insert(list, { P .. "x:uc:" .. enc(meta.u), pad(meta.c) })
    table.insert(list, { P .. "x:uu:" .. enc(meta.u), pad(meta.m) })
  end
  if meta.e then
    table.insert(list, { P .. "x:ec:" .. enc(meta.e), pad(meta.c) })
    table.insert(list, { P .. "x:eu:" .. enc(meta.e), pad(meta.m) })
  end
  return list
end
local function unindex(id, meta)
  for _, ix in ipairs(indexes(id, meta)) do redis.call("ZREM", ix[1], ix[2] .. ":" .. id) end
end
local function index(id, meta)
  for i, ix in ipairs(indexes(id, meta)) do
    redis.call("ZADD", ix[1], 0, ix[2] .. ":" .. id)
    if i > 2 then redis.call("SADD", P .. "x:keys", ix[1]) end
  end
end
local function store(id, meta, d, ttl)
  local key = skey(id)
  redis.call("HSET", key, "c", pad(meta.c), "m", pad(meta.m), "v", meta.v, "rc", meta.rc)
  if d then redis.call("HSET", key, "d", d) end
  for _, f in ipairs({ "u", "n", "e" }) do
    if meta[f] then redis.call("HSET", key, f, "=" .. meta[f]) else redis.call("HDEL", key, f) end
  end
  index(id, meta)
  if ttl then
    redis.call("PEXPIRE", key, ttl)
    if meta.rc > 0 then redis.call("PEXPIRE", rkey(id), ttl) end
    redis.call("PEXPIRE", kkey(id), ttl)
  end
end
local function pushAll(key, list)
  for i = 1, #list, 1000 do redis.call("RPUSH", key, unpack(list, i, math.min(i + 999, #list))) end
end
local function live(meta, liveAfter) return meta ~= nil and (liveAfter == nil or meta.m > liveAfter) end
`;

/** Replay protection of writes: `seen()` is the recorded result (or nil), `record(r)` stores and returns `r`. */
export const WRITE: string = PRELUDE + `
local OPS, OPT, OPID = KEYS[1], KEYS[2], ARGV[2]
local function seen()
  local text = redis.call("HGET", OPS, OPID)
  if text then return cjson.decode(text) end
  return nil
end
local function record(result)
  local t = redis.call("TIME")
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local old = redis.call("ZRANGEBYSCORE", OPT, "-inf", ms - ${OP_RETENTION_MS}, "LIMIT", 0, 100)
  if #old > 0 then redis.call("HDEL", OPS, unpack(old)); redis.call("ZREM", OPT, unpack(old)) end
  redis.call("HSET", OPS, OPID, cjson.encode(result))
  redis.call("ZADD", OPT, ms, OPID)
  redis.call("PEXPIRE", OPS, ${OP_RETENTION_MS}); redis.call("PEXPIRE", OPT, ${OP_RETENTION_MS})
  return result
end
local replayed = seen()
if replayed ~= nil then return replayed end
`;

/** The stored hash of `KEYS[1]` (`HGETALL`). */
export const READ = `return redis.call("HGETALL", KEYS[1])`;

/**
 * Upsert of N sessions. ARGV: P, op, now, liveAfter, expectedVersion, ttl, N,
 * then per session: id, user, name, entity (each "" for null or "=" + value),
 * JSON. Checks everything, then writes: `{"ok", c1, m1, v1, …}`, or
 * `{"refused", index of the refused session (from 0), stored version (0: absent),
 * stored user ("" or "=" + user)}`.
 */
export const UPSERT: string = WRITE + `
local now, liveAfter, expected, ttl, n = tonumber(ARGV[3]), num(ARGV[4]), num(ARGV[5]), num(ARGV[6]), tonumber(ARGV[7])
local staged, out = {}, { "ok" }
for i = 0, n - 1 do
  local b = 8 + i * 5
  local id = ARGV[b]
  local st = staged[id]
  if st == nil then
    local stored = load(id)
    st = { stored = stored, cur = live(stored, liveAfter) and stored or nil }
    staged[id] = st
  end
  local cur, u = st.cur, opt(ARGV[b + 1])
  local actual = cur and cur.v or 0
  if (cur and cur.u and cur.u ~= u) or (expected and expected ~= actual) then
    return record({ "refused", i, actual, (cur and cur.u) and ("=" .. cur.u) or "" })
  end
  st.cur = { u = u, n = opt(ARGV[b + 2]), e = opt(ARGV[b + 3]), c = cur and cur.c or now, m = now, v = actual + 1,
             rc = cur and cur.rc or 0, fresh = (cur == nil) or (cur.fresh == true) }
  st.d = ARGV[b + 4]
  table.insert(out, pad(st.cur.c)); table.insert(out, pad(now)); table.insert(out, st.cur.v)
end
for id, st in pairs(staged) do
  if st.stored then unindex(id, st.stored) end
  if st.cur.fresh then redis.call("DEL", skey(id), rkey(id), kkey(id)) end
  store(id, st.cur, st.d, ttl)
end
return record(out)
`;

/** Delete. ARGV: P, op, id, user, liveAfter. Returns 1 or 0. */
export const DELETE: string = WRITE + `
local id, user, liveAfter = ARGV[3], opt(ARGV[4]), num(ARGV[5])
local meta = load(id)
if not live(meta, liveAfter) or (user and meta.u ~= user) then return record(0) end
unindex(id, meta)
redis.call("DEL", skey(id), rkey(id), kkey(id))
return record(1)
`;

/** Rename. ARGV: P, op, id, name, user, liveAfter, now, ttl. Returns the hash (HGETALL), or nil. */
export const RENAME: string = WRITE + `
local id, name, user, liveAfter, now, ttl = ARGV[3], opt(ARGV[4]), opt(ARGV[5]), num(ARGV[6]), tonumber(ARGV[7]), num(ARGV[8])
local meta = load(id)
if not live(meta, liveAfter) or (user and meta.u ~= user) then return record(false) end
unindex(id, meta)
meta.n, meta.m, meta.v = name, now, meta.v + 1
store(id, meta, nil, ttl)
return record(redis.call("HGETALL", skey(id)))
`;

/**
 * A page of sessions from the lex index `KEYS[1]`. ARGV: P, "asc" or "desc",
 * count, low bound, high bound, sort field ("c" or "m"), user, entity, name,
 * createdAfter, createdBefore, updatedAfter, updatedBefore, liveAfter.
 * Walks the index from the bound, skipping entries that fail the filters
 * (and removing stale ones), until `count` match. Returns id, hash, id, hash…
 */
export const LIST: string = PRELUDE + `
local key, asc, want, lo, hi, sortField = KEYS[1], ARGV[2] == "asc", tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local user, entity, name = opt(ARGV[7]), opt(ARGV[8]), opt(ARGV[9])
local cA, cB, uA, uB, liveAfter = num(ARGV[10]), num(ARGV[11]), num(ARGV[12]), num(ARGV[13]), num(ARGV[14])
local ids = {}
local chunk = want
while #ids < want do
  local members
  if asc then members = redis.call("ZRANGE", key, lo, hi, "BYLEX", "LIMIT", 0, chunk)
  else members = redis.call("ZRANGE", key, hi, lo, "BYLEX", "REV", "LIMIT", 0, chunk) end
  for _, member in ipairs(members) do
    local id = string.sub(member, 17)
    local meta = load(id)
    if meta == nil or pad(meta[sortField]) ~= string.sub(member, 1, 15) then
      redis.call("ZREM", key, member)
    elseif live(meta, liveAfter) and (not user or meta.u == user) and (not entity or meta.e == entity)
      and (not name or meta.n == name) and (not cA or meta.c > cA) and (not cB or meta.c < cB)
      and (not uA or meta.m > uA) and (not uB or meta.m < uB) then
      table.insert(ids, id)
      if #ids >= want then break end
    end
  end
  if #members < chunk then break end
  if asc then lo = "(" .. members[#members] else hi = "(" .. members[#members] end
  chunk = math.min(chunk * 2, 1000)
end
local out = {}
for _, id in ipairs(ids) do
  table.insert(out, "=" .. id)
  table.insert(out, redis.call("HGETALL", skey(id)))
end
return out
`;

/**
 * Restore. ARGV: P, op, onConflict, liveAfter, ttl, N, then per entry: id,
 * user, name, entity, JSON, createdAt, updatedAt, version, run count, then
 * per run its key ("" or "=" + key) and record.
 * Returns `{"ok", imported, skipped}` or `{"conflict", id, version}`.
 */
export const IMPORT: string = WRITE + `
local onConflict, liveAfter, ttl, n = ARGV[3], num(ARGV[4]), num(ARGV[5]), tonumber(ARGV[6])
local entries, b = {}, 7
for i = 1, n do
  local e = { id = ARGV[b], u = opt(ARGV[b + 1]), n = opt(ARGV[b + 2]), e = opt(ARGV[b + 3]), d = ARGV[b + 4],
              c = tonumber(ARGV[b + 5]), m = tonumber(ARGV[b + 6]), v = tonumber(ARGV[b + 7]), rc = tonumber(ARGV[b + 8]) }
  e.runs, e.keys = {}, {}
  for k = 1, e.rc do e.keys[k], e.runs[k] = opt(ARGV[b + 7 + 2 * k]), ARGV[b + 8 + 2 * k] end
  b = b + 9 + 2 * e.rc
  e.stored = load(e.id)
  e.exists = live(e.stored, liveAfter)
  if e.exists and onConflict == "fail" then return record({ "conflict", e.id, e.stored.v }) end
  entries[i] = e
end
local imported = 0
for _, e in ipairs(entries) do
  if not (e.exists and onConflict == "skip") then
    if e.stored then unindex(e.id, e.stored) end
    redis.call("DEL", skey(e.id), rkey(e.id), kkey(e.id))
    if e.rc > 0 then pushAll(rkey(e.id), e.runs) end
    for k = 1, e.rc do if e.keys[k] then redis.call("HSET", kkey(e.id), e.keys[k], k) end end
    store(e.id, e, e.d, ttl)
    imported = imported + 1
  end
end
return record({ "ok", imported, n - imported })
`;

/** Purge up to `batch` expired sessions. ARGV: P, op, liveAfter, batch. Returns `{purged, scanned}`. */
export const PURGE: string = WRITE + `
local liveAfter, batch = tonumber(ARGV[3]), tonumber(ARGV[4])
local members = redis.call("ZRANGE", P .. "x:u", "-", "(" .. pad(liveAfter) .. ";", "BYLEX", "LIMIT", 0, batch)
local purged = 0
for _, member in ipairs(members) do
  local id = string.sub(member, 17)
  local meta = load(id)
  if meta == nil then
    redis.call("ZREM", P .. "x:u", member)
  elseif meta.m <= liveAfter then
    unindex(id, meta)
    redis.call("DEL", skey(id), rkey(id), kkey(id))
    purged = purged + 1
  else
    redis.call("ZREM", P .. "x:u", member)
  end
end
return record({ purged, #members })
`;

/**
 * Drop up to `batch` sessions, then the indexes and the write results once
 * none is left. ARGV: P, batch. Returns how many were removed (sending it
 * again is harmless: the caller repeats it until it returns 0).
 */
export const DROP: string = PRELUDE + `
local batch = tonumber(ARGV[2])
local members = redis.call("ZRANGE", P .. "x:c", "-", "+", "BYLEX", "LIMIT", 0, batch)
for _, member in ipairs(members) do
  local id = string.sub(member, 17)
  redis.call("DEL", skey(id), rkey(id), kkey(id))
  redis.call("ZREM", P .. "x:c", member)
end
if #members == 0 then
  for _, key in ipairs(redis.call("SMEMBERS", P .. "x:keys")) do redis.call("DEL", key) end
  redis.call("DEL", P .. "x:c", P .. "x:u", P .. "x:keys", P .. "o", P .. "ot", P .. "layout")
end
return #members
`;
