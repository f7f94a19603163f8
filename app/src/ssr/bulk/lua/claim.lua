-- Takes (or keeps) the lease of an operation that is not finished: when this token holds it,
-- or its holder let it expire (an instance that stopped or was killed).
-- KEYS: 1 the operation's hash. ARGV: 1 token, 2 lease ms.
-- Returns {1, state} when held ('preparing': its creator stopped before listing every id; end
-- it), {0, state} when another holds it, it is still being listed, or it has ended.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' and state ~= 'preparing' then
  return {0, state or 'missing'}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local owner = redis.call('HGET', KEYS[1], 'owner')
local held = tonumber(redis.call('HGET', KEYS[1], 'until') or '0') >= now
if state == 'preparing' and held then
  -- Its creator is still listing its ids (this instance's request, or another's).
  return {0, state}
end
if owner ~= ARGV[1] and held then
  return {0, state}
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'until', now + tonumber(ARGV[2]))
return {1, state}
