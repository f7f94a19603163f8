-- One queue's part of a snapshot: unchanged since the caller's last read, or its counts and its
-- most recently finished jobs. BullMQ writes an event to the queue's stream in the same script
-- as every state change (and so do the monitor's own scripts), so the stream's last id tells
-- whether anything changed.
-- KEYS: 1 events, 2 meta, 3 wait, 4 paused, 5 active, 6 prioritized, 7 delayed, 8 completed,
--       9 failed, 10 waiting-children
-- ARGV: 1 the last event id the caller saw ("" for none), 2 "1" to read in full anyway,
--       3 the sample size n; to read only what finished since (incremental), 4 "inc", then
--       for completed and failed in turn: 5/8 the exclusive lower bound of the new jobs'
--       scores ("(<score>" or "-inf"), 6/9 the threshold ("-inf" or a score) at or above which
--       the set held 7/10 jobs at the caller's last read
-- Returns {0, id} when the last event is still ARGV[1]; incrementally, when the jobs the caller
-- knows are all still there (the set holds exactly them and the new ones at or above the
-- threshold) and fewer than n are new in each set:
--   {2, id, exists, paused, …the counts as below…, new completed k, new failed j, scores…}
-- with the k new completed scores (positive) then the j new failed ones (negative), newest
-- first; else
--   {1, id, exists, paused, wait, paused list, active, prioritized, delayed, completed, failed,
--    waiting-children, tied completed, tied failed, finished…}
-- where finished is the n most recently finished jobs, newest first, as their finishedOn
-- scores (positive: completed, negative: failed; ties ordered completed first), and "tied" are
-- the jobs beyond those n that finished in the very millisecond of the n-th (so a sample of
-- "every job at or after the n-th's time" is exact).
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = ''
if last[1] then
  id = last[1][1]
end
if id ~= '' and id == ARGV[1] and ARGV[2] ~= '1' then
  return {0, id}
end

local n = tonumber(ARGV[3])
local meta = redis.call('HMGET', KEYS[2], 'paused', 'opts.maxLenEvents', 'version')
local exists = 0
if meta[1] or meta[2] or meta[3] then
  exists = 1
end
local paused = 0
if meta[1] then
  paused = 1
end
local completed = redis.call('ZCARD', KEYS[8])
local failed = redis.call('ZCARD', KEYS[9])
local reply = {1, id, exists, paused,
  redis.call('LLEN', KEYS[3]), redis.call('LLEN', KEYS[4]), redis.call('LLEN', KEYS[5]),
  redis.call('ZCARD', KEYS[6]), redis.call('ZCARD', KEYS[7]), completed, failed,
  redis.call('ZCARD', KEYS[10]), 0, 0}

if ARGV[4] == 'inc' then
  local function new_jobs(key, bound)
    return redis.call('ZREVRANGEBYSCORE', key, '+inf', bound, 'WITHSCORES', 'LIMIT', 0, n)
  end
  local function still_known(key, card, threshold, known, new)
    local held = card
    if threshold ~= '-inf' then
      held = redis.call('ZCOUNT', key, threshold, '+inf')
    end
    return held == tonumber(known) + #new / 2
  end
  local nc = new_jobs(KEYS[8], ARGV[5])
  local nf = new_jobs(KEYS[9], ARGV[8])
  if #nc / 2 < n and #nf / 2 < n
      and still_known(KEYS[8], completed, ARGV[6], ARGV[7], nc)
      and still_known(KEYS[9], failed, ARGV[9], ARGV[10], nf) then
    reply[1] = 2
    reply[13] = #nc / 2
    reply[14] = #nf / 2
    for i = 2, #nc, 2 do
      reply[#reply + 1] = tonumber(nc[i])
    end
    for i = 2, #nf, 2 do
      reply[#reply + 1] = -tonumber(nf[i])
    end
    return reply
  end
end

-- The n newest of each set, merged by score.
local c, f = {}, {}
if completed > 0 then
  c = redis.call('ZREVRANGE', KEYS[8], 0, n - 1, 'WITHSCORES')
end
if failed > 0 then
  f = redis.call('ZREVRANGE', KEYS[9], 0, n - 1, 'WITHSCORES')
end
local ci, fi, taken = 2, 2, 0
local last_score = nil
while taken < n and (ci <= #c or fi <= #f) do
  local cs = c[ci] and tonumber(c[ci]) or nil
  local fs = f[fi] and tonumber(f[fi]) or nil
  if cs and (not fs or cs >= fs) then
    reply[#reply + 1] = cs
    last_score = cs
    ci = ci + 2
  else
    reply[#reply + 1] = -fs
    last_score = fs
    fi = fi + 2
  end
  taken = taken + 1
end

-- Jobs tied with the n-th that the merge left out: the rest of that millisecond in a set, read
-- only when the set may hold more of them (its next score ties, or it goes on past what was
-- read and what was read ends in a tie).
local function may_have_more(scores, next_index, card)
  if scores[next_index] then
    return tonumber(scores[next_index]) == last_score
  end
  return #scores > 0 and card > #scores / 2 and tonumber(scores[#scores]) == last_score
end
if taken == n and last_score then
  for slot, set in ipairs({{c, ci, completed, KEYS[8], 1}, {f, fi, failed, KEYS[9], -1}}) do
    local scores, next_index, card, key, sign = set[1], set[2], set[3], set[4], set[5]
    if may_have_more(scores, next_index, card) then
      local listed = 0
      for i = 15, #reply do
        if reply[i] == sign * last_score then
          listed = listed + 1
        end
      end
      reply[12 + slot] = redis.call('ZCOUNT', key, last_score, last_score) - listed
    end
  end
end
return reply
