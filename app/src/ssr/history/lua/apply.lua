-- Applies one batch of the history atomically: every bucket's increments and the queue's new
-- cursor, but only if the caller still holds the lease and the cursor is still where the caller
-- read from. So a batch is counted once, whoever collects and whenever one dies.
-- KEYS[1] lease, KEYS[2] cursor, KEYS[3] gaps hash, KEYS[4] since hash, KEYS[5] applied hash
-- (per queue, the new cursor: readers keep what they derived from the buckets until it moves),
-- KEYS[6] the queue's ring of recent outcomes, KEYS[7] the recent-outcome counts hash, KEYS[8]
-- the scope's sorted set of recent outcomes over all queues
-- ARGV[1] lease token, ARGV[2] expected cursor ('' = none yet), ARGV[3] new cursor,
-- ARGV[4] queue name, ARGV[5] events missed in a gap before this batch (0: none),
-- ARGV[6] number of buckets, ARGV[7] where the queue's history starts (ms; 0 = its beginning;
-- recorded with the queue's first batch), ARGV[8] jobs the
-- gap was filled with from the retained jobs (their counts are in the buckets), ARGV[9] the
-- batch's outcomes in stream order ('c' completed, 'f' failed, one letter per finished job),
-- ARGV[10] the scope's field prefix in the counts hash, ARGV[11] how many outcomes a ring
-- keeps, ARGV[12] G, then G pairs (finish ms, member '<entry id>|<queue>|<c or f>'), then per
-- bucket
-- 12 values:
--   key, ttl seconds, completed, failed,
--   processing sum, min, max, count, wait sum, min, max, count
-- then H, and H pairs (field, increment) of the lifetime histograms in the counts hash
-- (KEYS[7]: `<queue>:hp<i>`, `:hps`, `:hpc`, `:hw…`),
-- then the failure groups' part (groups.lua, prepended): their base, the hour retention (ms),
-- the number of operations, the operations.
-- Returns 1 (applied), -1 (lease lost), -2 (cursor moved).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local cursor = redis.call('GET', KEYS[2])
if (cursor or '') ~= ARGV[2] then
  return -2
end

local function timing(key, name, sum, min, max, count)
  if tonumber(count) == 0 then
    return
  end
  redis.call('HINCRBY', key, name .. 'Sum', sum)
  redis.call('HINCRBY', key, name .. 'Count', count)
  local old_min = redis.call('HGET', key, name .. 'Min')
  if (not old_min) or tonumber(min) < tonumber(old_min) then
    redis.call('HSET', key, name .. 'Min', min)
  end
  local old_max = redis.call('HGET', key, name .. 'Max')
  if (not old_max) or tonumber(max) > tonumber(old_max) then
    redis.call('HSET', key, name .. 'Max', max)
  end
end

if tonumber(ARGV[5]) > 0 then
  redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
  redis.call('HINCRBY', KEYS[3], ARGV[4] .. ':events', ARGV[5])
  redis.call('HINCRBY', KEYS[3], ARGV[4] .. ':filled', ARGV[8])
end

-- The first batch of a queue marks where its history starts.
if ARGV[2] == '' and ARGV[7] ~= '' then
  redis.call('HSETNX', KEYS[4], ARGV[4], ARGV[7])
end

-- The rings of recent outcomes: at most RECENT each, their counts kept beside them so that a
-- reader gets every queue's success sample with one HMGET.
local RECENT = tonumber(ARGV[11])
local function tally(outcomes)
  local _, completed = outcomes:gsub('c', '')
  return completed, #outcomes - completed
end
if ARGV[9] ~= '' then
  local ring = (redis.call('GET', KEYS[6]) or '') .. ARGV[9]
  local completed, failed = tally(ARGV[9])
  -- Lifetime counters (the Prometheus exposition's `bullmq_job_completed_total`): never
  -- trimmed, so they only grow.
  if completed > 0 then redis.call('HINCRBY', KEYS[7], ARGV[4] .. ':tc', completed) end
  if failed > 0 then redis.call('HINCRBY', KEYS[7], ARGV[4] .. ':tf', failed) end
  if #ring > RECENT then
    local gone_c, gone_f = tally(ring:sub(1, #ring - RECENT))
    completed, failed = completed - gone_c, failed - gone_f
    ring = ring:sub(#ring - RECENT + 1)
  end
  redis.call('SET', KEYS[6], ring)
  redis.call('HINCRBY', KEYS[7], ARGV[4] .. ':c', completed)
  redis.call('HINCRBY', KEYS[7], ARGV[4] .. ':f', failed)
end

local i = 13
local global = tonumber(ARGV[12])
if global > 0 then
  local completed, failed = 0, 0
  local pairs_ = {}
  for _ = 1, global do
    pairs_[#pairs_ + 1] = ARGV[i]
    pairs_[#pairs_ + 1] = ARGV[i + 1]
    if ARGV[i + 1]:sub(-1) == 'c' then completed = completed + 1 else failed = failed + 1 end
    if #pairs_ == 1000 then
      redis.call('ZADD', KEYS[8], unpack(pairs_))
      pairs_ = {}
    end
    i = i + 2
  end
  if #pairs_ > 0 then
    redis.call('ZADD', KEYS[8], unpack(pairs_))
  end
  local over = redis.call('ZCARD', KEYS[8]) - RECENT
  if over > 0 then
    for _, member in ipairs(redis.call('ZRANGE', KEYS[8], 0, over - 1)) do
      if member:sub(-1) == 'c' then completed = completed - 1 else failed = failed - 1 end
    end
    redis.call('ZREMRANGEBYRANK', KEYS[8], 0, over - 1)
  end
  redis.call('HINCRBY', KEYS[7], ARGV[10] .. 'c', completed)
  redis.call('HINCRBY', KEYS[7], ARGV[10] .. 'f', failed)
end

for _ = 1, tonumber(ARGV[6]) do
  local key = ARGV[i]
  redis.call('HINCRBY', key, 'completed', ARGV[i + 2])
  redis.call('HINCRBY', key, 'failed', ARGV[i + 3])
  timing(key, 'processing', ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7])
  timing(key, 'wait', ARGV[i + 8], ARGV[i + 9], ARGV[i + 10], ARGV[i + 11])
  redis.call('EXPIRE', key, ARGV[i + 1])
  i = i + 12
end
for _ = 1, tonumber(ARGV[i]) do
  redis.call('HINCRBY', KEYS[7], ARGV[i + 1], ARGV[i + 2])
  i = i + 2
end
i = i + 1
if ARGV[i] then
  fg_apply(ARGV[i], ARGV, i + 3, tonumber(ARGV[i + 2]), tonumber(ARGV[i + 1]))
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[4], ARGV[3])
return 1
