-- Prepended to the scripts that change failure groups (the history's apply.lua, seed.lua).
-- A group's keys sit under `fg` (a base in the history's slot):
--   fg:count    hash  group -> failures counted (ever)
--   fg:info     hash  group -> JSON {name, message, frame, example, queue, job} (newest example)
--   fg:first / fg:last  hash  group -> ms of its first / last failure
--   fg:queues   hash  'group|queue' -> failures counted in that queue
--   fg:retained hash  'group|queue' -> failed jobs of the group BullMQ still keeps
--   fg:h:<hour start ms>  hash 'group|queue' -> failures in that hour (expires with the hours)
--   fg:m:<group>:<queue>  sorted set: the retained failed jobs (score: finishedOn)
--   fg:job:<queue>        hash job id -> its group, while the job is a member
-- A failure is one (job, finishedOn) pair: the same failure met twice (from the seed of the
-- retained jobs and from its event) is counted once.

local function fg_leave(fg, queue, job)
  local rev = fg .. ':job:' .. queue
  local old = redis.call('HGET', rev, job)
  if old then
    redis.call('ZREM', fg .. ':m:' .. old .. ':' .. queue, job)
    redis.call('HINCRBY', fg .. ':retained', old .. '|' .. queue, -1)
    redis.call('HDEL', rev, job)
  end
  return old
end

-- Applies `n` operations from `argv` starting at `i` (7 values each: kind, group, queue, job,
-- score ('' when BullMQ no longer keeps the job), ms, info JSON ('' to keep the stored one)).
-- Kinds: 'f' a failed event, 's' a retained failed job seeded, 'l' a job that left `failed`.
-- `hour_ttl_ms` is how long hour counts are kept after their hour. Returns the next index.
local function fg_apply(fg, argv, i, n, hour_ttl_ms)
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  for _ = 1, n do
    local kind, group, queue, job = argv[i], argv[i + 1], argv[i + 2], argv[i + 3]
    local score, ms, info = argv[i + 4], tonumber(argv[i + 5]), argv[i + 6]
    i = i + 7
    local rev = fg .. ':job:' .. queue
    if kind == 'l' then
      fg_leave(fg, queue, job)
    else
      local member_score = redis.call('ZSCORE', fg .. ':m:' .. group .. ':' .. queue, job)
      local counted = member_score and (score == '' or tonumber(member_score) == tonumber(score))
      if kind == 's' and redis.call('HEXISTS', rev, job) == 1 then
        counted = true
      end
      if not counted then
        redis.call('HINCRBY', fg .. ':count', group, 1)
        redis.call('HINCRBY', fg .. ':queues', group .. '|' .. queue, 1)
        redis.call('HSETNX', fg .. ':first', group, ms)
        if tonumber(redis.call('HGET', fg .. ':first', group)) > ms then
          redis.call('HSET', fg .. ':first', group, ms)
        end
        local last = tonumber(redis.call('HGET', fg .. ':last', group) or '0')
        if ms > last then
          redis.call('HSET', fg .. ':last', group, ms)
        end
        local hour = ms - ms % 3600000
        local ttl = math.floor((hour + 3600000 + hour_ttl_ms - now) / 1000)
        if ttl > 0 then
          local key = fg .. ':h:' .. hour
          redis.call('HINCRBY', key, group .. '|' .. queue, 1)
          redis.call('EXPIRE', key, ttl)
        end
        if info ~= '' then
          redis.call('HSET', fg .. ':info', group, info)
        else
          redis.call('HSETNX', fg .. ':info', group, '{}')
        end
        if score ~= '' then
          fg_leave(fg, queue, job)
          redis.call('ZADD', fg .. ':m:' .. group .. ':' .. queue, score, job)
          redis.call('HINCRBY', fg .. ':retained', group .. '|' .. queue, 1)
          redis.call('HSET', rev, job, group)
        end
      end
    end
  end
  return i
end
