"""Lua scripts of the answer path: each runs atomically inside Redis, so two tabs or two servers
can never interleave an older version over a newer one (seed 000, 3.1 "버전 관리").
"""

from functools import cache

from redis.commands.core import Script

from exam_platform.redis import redis_client

from .keys import NAVIGATION_KEEP

# KEYS[1] cache hash, KEYS[2] stream, KEYS[3] and KEYS[4] the state epochs of the examinee's group
# and of the examinee (plans.services.lifecycle.exam_group_epoch_key).
# ARGV[1] meta JSON, ARGV[2] navigation JSON list (new moves), ARGV[3] stream header JSON,
# ARGV[4] number of questions, ARGV[5] "all" to write nothing unless every question is accepted
# (an operator's restore) or "each", then per question: id, version, value, entry JSON; last the
# epochs the caller's examinee context was read at ("<group>|<examinee>"), or "-" when the
# context is fresh.
# Returns {stream id or "", stream length, result per question}: "A" accepted, "D" duplicate,
# "S:<v>" stale; {"CLOSED"} when the sheet was submitted; {"EPOCH", <epochs>} when the state
# changed since the context was read (nothing is written: read the context again).
SYNC_APPLY = f"""
local key = KEYS[1]
if redis.call('HGET', key, 'st') == 'SUBMITTED' then
  return {{'CLOSED'}}
end
local n = tonumber(ARGV[4])
local expected = ARGV[6 + n * 4]
if expected and expected ~= '-' then
  local epoch = (redis.call('GET', KEYS[3]) or '0') .. '|' .. (redis.call('GET', KEYS[4]) or '0')
  if epoch ~= expected then
    return {{'EPOCH', epoch}}
  end
end
local results = {{}}
local fields = {{'m', ARGV[3]}}
local accepted = 0
if ARGV[5] == 'all' then
  for i = 0, n - 1 do
    local base = 6 + i * 4
    local current = redis.call('HGET', key, 'v:' .. ARGV[base])
    if current and tonumber(ARGV[base + 1]) <= tonumber(current) then
      for j = 0, n - 1 do
        local other = redis.call('HGET', key, 'v:' .. ARGV[6 + j * 4])
        results[#results + 1] = 'S:' .. (other or '0')
      end
      table.insert(results, 1, redis.call('XLEN', KEYS[2]))
      table.insert(results, 1, '')
      return results
    end
  end
end
for i = 0, n - 1 do
  local base = 6 + i * 4
  local q = ARGV[base]
  local v = tonumber(ARGV[base + 1])
  local digest = redis.sha1hex(ARGV[base + 2])
  local current = redis.call('HGET', key, 'v:' .. q)
  if (not current) or v > tonumber(current) then
    redis.call('HSET', key, 'v:' .. q, v, 'a:' .. q, ARGV[base + 3], 'h:' .. q, digest)
    fields[#fields + 1] = 'q:' .. q
    fields[#fields + 1] = ARGV[base + 3]
    accepted = accepted + 1
    results[#results + 1] = 'A'
  elseif v == tonumber(current) and redis.call('HGET', key, 'h:' .. q) == digest then
    results[#results + 1] = 'D'
  else
    results[#results + 1] = 'S:' .. current
  end
end
local stream_id = ''
if accepted > 0 then
  redis.call('HINCRBY', key, 'mv', accepted)
  redis.call('HSET', key, 'meta', ARGV[1])
  local moves = cjson.decode(ARGV[2])
  if #moves > 0 then
    local nav = cjson.decode(redis.call('HGET', key, 'nav') or '[]')
    for _, move in ipairs(moves) do nav[#nav + 1] = move end
    while #nav > {NAVIGATION_KEEP} do table.remove(nav, 1) end
    redis.call('HSET', key, 'nav', cjson.encode(nav))
  end
  -- Uncommitted data never expires: the TTL is set again only once everything is committed.
  redis.call('PERSIST', key)
  stream_id = redis.call('XADD', KEYS[2], '*', unpack(fields))
end
table.insert(results, 1, redis.call('XLEN', KEYS[2]))
table.insert(results, 1, stream_id)
return results
"""

# Sets the hot-window TTL on `key` only when every question's accepted version (v:) is committed (c:).
# Reads the field names first and then only the versions: HGETALL would copy every answer entry too.
_EXPIRE_WHEN_COMMITTED = """
local function expire_when_committed(key, ttl)
  local names = redis.call('HKEYS', key)
  local wanted = {}
  for _, f in ipairs(names) do
    if string.sub(f, 1, 2) == 'v:' then
      wanted[#wanted + 1] = f
      wanted[#wanted + 1] = 'c:' .. string.sub(f, 3)
    end
  end
  for from = 1, #wanted, 400 do  -- in slices: unpack() of a very long paper would overflow Lua's stack
    local values = redis.call('HMGET', key, unpack(wanted, from, math.min(from + 399, #wanted)))
    for i = 1, #values, 2 do
      if (not values[i + 1]) or tonumber(values[i + 1]) < tonumber(values[i]) then return 0 end
    end
  end
  redis.call('EXPIRE', key, ttl)
  return 1
end
"""

# One call for a whole flush batch: KEYS the cache hashes; ARGV[1] TTL seconds, then per key in
# order: the number of questions n, then n pairs question id, committed version. Records the
# committed versions of each existing hash and sets its TTL only when every accepted version is
# committed. Returns how many hashes got their TTL. (A pipeline of one call per hash spent most of
# the flush's acknowledgement in redis-py packing 2,000 EVALSHA commands per batch.)
COMMIT_MARK = (
    _EXPIRE_WHEN_COMMITTED
    + """
local ttl = tonumber(ARGV[1])
local at = 2
local expiring = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  local n = tonumber(ARGV[at])
  if redis.call('EXISTS', key) == 1 then
    for i = at + 1, at + 2 * n, 2 do
      local q = ARGV[i]
      local v = tonumber(ARGV[i + 1])
      local current = redis.call('HGET', key, 'c:' .. q)
      if (not current) or v > tonumber(current) then
        redis.call('HSET', key, 'c:' .. q, v)
      end
    end
    expiring = expiring + expire_when_committed(key, ttl)
  end
  at = at + 1 + 2 * n
end
return expiring
"""
)

# KEYS[1] the hash of due SOLVING_STATS recounts; ARGV pairs field, value: deletes each field that still
# holds the value that was read (a newer commit has replaced it and asks for another recount).
HASH_DELETE_IF_SAME = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return removed
"""

# Warm the cache from ANSWER_DATA (recovery after a cache miss or loss). KEYS[1] cache hash.
# ARGV[1] TTL seconds, then per question: id, version, value, entry JSON. A question is written
# only where the cache holds no version or a lower one; the database versions are committed.
WARM_FROM_DATABASE = (
    _EXPIRE_WHEN_COMMITTED
    + """
local key = KEYS[1]
for i = 2, #ARGV, 4 do
  local q = ARGV[i]
  local v = tonumber(ARGV[i + 1])
  local current = redis.call('HGET', key, 'v:' .. q)
  if (not current) or v > tonumber(current) then
    redis.call('HSET', key, 'v:' .. q, v, 'a:' .. q, ARGV[i + 3], 'h:' .. q, redis.sha1hex(ARGV[i + 2]))
  end
  local done = redis.call('HGET', key, 'c:' .. q)
  if (not done) or v > tonumber(done) then
    redis.call('HSET', key, 'c:' .. q, v)
  end
end
return expire_when_committed(key, tonumber(ARGV[1]))
"""
)


@cache
def script(source: str) -> Script:
    """The registered script (EVALSHA, reloaded automatically after a Redis restart)."""
    return redis_client().register_script(source)
