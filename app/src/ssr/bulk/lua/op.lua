-- Prepended to batch.lua and changed.lua: how every batch starts and ends, whatever its action.

-- Whether this batch may run: `nil, now` (ms, Redis's clock) when `token` holds the running
-- operation, its lease renewed by `lease_ms`; else the reply the batch returns at once
-- ({0, state} when it is no longer running, {-1} when another instance holds it).
local function batch_begin(op, token, lease_ms)
  local state = redis.call('HGET', op, 'state')
  if state ~= 'running' then
    return {0, state or 'missing'}, nil
  end
  if redis.call('HGET', op, 'owner') ~= token then
    return {-1}, nil
  end
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  redis.call('HSET', op, 'until', now + tonumber(lease_ms))
  return nil, now
end

-- The `taken` first ids off the list, the counts added, and the operation done (`finished_at`)
-- when no id remains. Returns {1, done, skipped, remaining}.
local function batch_end(op, todo, running, taken, done, skipped, finished_at)
  redis.call('LTRIM', todo, taken, -1)
  redis.call('HINCRBY', op, 'done', done)
  redis.call('HINCRBY', op, 'skipped', skipped)
  local remaining = redis.call('LLEN', todo)
  if remaining == 0 then
    redis.call('HSET', op, 'state', 'done', 'finishedAt', finished_at)
    if redis.call('GET', running) == redis.call('HGET', op, 'id') then
      redis.call('DEL', running)
    end
  end
  return {1, done, skipped, remaining}
end
