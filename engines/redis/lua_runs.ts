/**
 * The run-log scripts of the Redis engine (layout in `lua.ts`): a keyed
 * append that can patch or create the session in the same script, a rewrite
 * of the log's tail, and reads by seq range and by key. Every write checks
 * everything it refuses on before its first write command (Redis does not
 * roll a script back), so a refusal changes nothing but the operation log.
 *
 * @module
 */
import { PRELUDE, WRITE } from "./lua.ts";

/**
 * Reading run records without re-encoding them: `digestOf` and `keyOf` match
 * the fixed field order the records are written in (a JSON string never holds
 * an unescaped `"`, so `,"run":` cannot occur inside the key). `splice`
 * replaces top-level members of a JSON object's text, keeping every other
 * member's text as it is (no number or escape is re-encoded).
 */
const RUNS = `
local HEAD = '^{"seq":%d+,"createdAt":%d+,"digest":'
local function digestOf(entry) return string.match(entry, HEAD .. '"(%x*)"') end
local function keyOf(entry)
  local k = string.match(entry, HEAD .. '[^,]*,"key":(.-),"run":')
  if k == nil or k == "null" then return nil end
  return cjson.decode(k)
end
local function strEnd(s, i)
  local j = i + 1
  while true do
    local q = string.find(s, '["\\\\]', j)
    if string.sub(s, q, q) == '"' then return q end
    j = q + 2
  end
end
local function splice(d, names, values)
  local out, seen, i = {}, {}, string.find(d, "{", 1, true) + 1
  while true do
    i = string.find(d, "[^%s,]", i)
    if string.sub(d, i, i) == "}" then break end
    local kEnd = strEnd(d, i)
    local name = string.sub(d, i, kEnd)
    local j = string.find(d, ":", kEnd + 1, true) + 1
    local depth, vStart = 0, j
    while true do
      local c = string.find(d, '[%[%]{}",]', j)
      local ch = string.sub(d, c, c)
      if ch == '"' then j = strEnd(d, c) + 1
      elseif ch == "{" or ch == "[" then depth = depth + 1; j = c + 1
      elseif depth == 0 and (ch == "}" or ch == ",") then j = c; break
      elseif ch == "," then j = c + 1
      else depth = depth - 1; j = c + 1 end
    end
    local at = values[name]
    if at then seen[name] = true; table.insert(out, name .. ":" .. at)
    else table.insert(out, name .. ":" .. string.sub(d, vStart, j - 1)) end
    i = j
  end
  for _, name in ipairs(names) do
    if not seen[name] then table.insert(out, name .. ":" .. values[name]) end
  end
  return "{" .. table.concat(out, ",") .. "}"
end
local function refused(meta) return { "refused", meta.v, meta.u and ("=" .. meta.u) or "" } end
local function pushRuns(id, after, runs)
  local entries = {}
  for i, r in ipairs(runs) do
    entries[i] = '{"seq":' .. (after + i) .. r.tail
    if r.key then redis.call("HSET", kkey(id), r.key, after + i) end
  end
  pushAll(rkey(id), entries)
end
local function readRuns(b)
  local runs = {}
  for i = 1, tonumber(ARGV[b]) do
    runs[i] = { key = opt(ARGV[b + 3 * i - 2]), digest = ARGV[b + 3 * i - 1], tail = ARGV[b + 3 * i] }
  end
  return runs
end
`;

/**
 * Append runs, with a patch, or creating the session. ARGV: P, op, id, user,
 * liveAfter, now, expectedVersion, ttl, create ("1" or ""), the created
 * session's user, name, entity ("" or "=" + value) and JSON, the patch's name
 * and entity ("" unchanged, "-" null, "=" + value), the number of patched JSON
 * fields then each field's name and value as JSON text, the number of runs
 * then per run its key ("" or "=" + key), digest and record text after its
 * seq (`,"createdAt":…}`). Returns `{"ok", version, runCount}`,
 * `{"notfound"}`, `{"refused", stored version, stored user}` or
 * `{"conflict", version, "=" + key}` (a key stored with another digest).
 */
export const APPEND_RUNS: string = WRITE + RUNS + `
local id, user, liveAfter, now, expected, ttl = ARGV[3], opt(ARGV[4]), num(ARGV[5]), tonumber(ARGV[6]), num(ARGV[7]), num(ARGV[8])
local fields = tonumber(ARGV[16])
local runs = readRuns(17 + 2 * fields)
local meta = load(id)
local created = not live(meta, liveAfter)
if created then
  if ARGV[9] ~= "1" then return record({ "notfound" }) end
  if expected and expected ~= 0 then return record({ "refused", 0, "" }) end
elseif (meta.u and meta.u ~= user) or (expected and expected ~= meta.v) then
  return record(refused(meta))
end
local fresh = {}
for _, r in ipairs(runs) do
  local held = (not created and r.key) and redis.call("HGET", kkey(id), r.key)
  if not held then table.insert(fresh, r)
  else
    local entry = redis.call("LINDEX", rkey(id), tonumber(held) - 1)
    if not entry then return redis.error_reply("ERR run key " .. r.key .. " names a missing run " .. held) end
    if digestOf(entry) ~= r.digest then return record({ "conflict", meta.v, "=" .. r.key }) end
  end
end
if not created and #fresh == 0 then return record({ "ok", meta.v, meta.rc }) end
local nm, d
if created then
  nm = { u = opt(ARGV[10]), n = opt(ARGV[11]), e = opt(ARGV[12]), c = now, m = now, v = 1, rc = 0 }
  d = ARGV[13]
else
  local function patched(s, old) if s == "" then return old elseif s == "-" then return nil end return string.sub(s, 2) end
  nm = { u = meta.u, n = patched(ARGV[14], meta.n), e = patched(ARGV[15], meta.e), c = meta.c, m = now,
           v = meta.v + 1, rc = meta.rc }
  if fields > 0 then
    local names, values = {}, {}
    for i = 1, fields do
      names[i] = ARGV[15 + 2 * i]
      values[names[i]] = ARGV[16 + 2 * i]
    end
    d = splice(redis.call("HGET", skey(id), "d"), names, values)
  end
end
if meta then unindex(id, meta) end
if created then redis.call("DEL", skey(id), rkey(id), kkey(id)) end
pushRuns(id, nm.rc, fresh)
nm.rc = nm.rc + #fresh
store(id, nm, d, ttl)
return record({ "ok", nm.v, nm.rc })
`;

/**
 * Rewrite the log's tail. ARGV: P, op, id, user, liveAfter, now,
 * expectedVersion, ttl, keepThrough, the number of runs then per run its key,
 * digest and record text after its seq (as for append). Returns
 * `{"ok", version, runCount}`, `{"notfound"}`, `{"refused", …}` or
 * `{"conflict", version, "=" + key, seq}` (an added key held by a kept run).
 */
export const EDIT_RUNS: string = WRITE + RUNS + `
local id, user, liveAfter, now, expected, ttl = ARGV[3], opt(ARGV[4]), num(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), num(ARGV[8])
local runs = readRuns(10)
local meta = load(id)
if not live(meta, liveAfter) then return record({ "notfound" }) end
if (meta.u and meta.u ~= user) or expected ~= meta.v then return record(refused(meta)) end
local keep = math.min(tonumber(ARGV[9]), meta.rc)
for _, r in ipairs(runs) do
  local held = r.key and redis.call("HGET", kkey(id), r.key)
  if held and tonumber(held) <= keep then return record({ "conflict", meta.v, "=" .. r.key, tonumber(held) }) end
end
local dead = {}
if keep < meta.rc then
  for _, entry in ipairs(redis.call("LRANGE", rkey(id), keep, -1)) do
    local key = keyOf(entry)
    if type(key) == "string" then table.insert(dead, key) end
  end
end
for i = 1, #dead, 1000 do redis.call("HDEL", kkey(id), unpack(dead, i, math.min(i + 999, #dead))) end
if keep == 0 then redis.call("DEL", rkey(id)) elseif keep < meta.rc then redis.call("LTRIM", rkey(id), 0, keep - 1) end
pushRuns(id, keep, runs)
unindex(id, meta)
meta.m, meta.v, meta.rc = now, meta.v + 1, keep + #runs
store(id, meta, nil, ttl)
return record({ "ok", meta.v, meta.rc })
`;

/** Whether the session of ARGV id is live and the user's (ARGV: P, id, user, liveAfter, …); its meta when it is. */
const OWNED = PRELUDE + `
local id, user, liveAfter = ARGV[2], opt(ARGV[3]), num(ARGV[4])
local meta = load(id)
if not live(meta, liveAfter) or (user and meta.u ~= user) then meta = nil end
`;

/**
 * A page of runs. ARGV: P, id, user, liveAfter, seqAbove, seqBelow ("" =
 * unbounded), count, order. Returns `{first seq, last seq, entries}` with the
 * entries in list order (the caller reverses for "desc"); `{1, 0, {}}` when none.
 */
export const GET_RUNS: string = OWNED + `
if not meta then return { 1, 0, {} } end
local above, below, count = num(ARGV[5]) or 0, num(ARGV[6]) or (meta.rc + 1), tonumber(ARGV[7])
local first, last
if ARGV[8] == "asc" then
  first = above + 1
  last = math.min(first + count - 1, meta.rc, below - 1)
else
  last = math.min(below - 1, meta.rc)
  first = math.max(above + 1, last - count + 1, 1)
end
if last < first then return { 1, 0, {} } end
return { first, last, redis.call("LRANGE", rkey(id), first - 1, last - 1) }
`;

/** The run under a key. ARGV: P, id, user, liveAfter, key. Returns `{seq, record}`, or `{}` when none. */
export const GET_RUN: string = OWNED + `
if not meta then return {} end
local seq = redis.call("HGET", kkey(id), ARGV[5])
if not seq then return {} end
return { tonumber(seq), redis.call("LINDEX", rkey(id), tonumber(seq) - 1) or "" }
`;
