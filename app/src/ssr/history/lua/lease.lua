-- Takes or renews the collector lease and, for its holder, records how far the history of the
-- queues it brought to their streams' end is complete.
-- KEYS[1] lease, KEYS[2] the per-queue "caught up" hash
-- ARGV[1] token, ARGV[2] time to live (ms), ARGV[3] the start (Redis ms) of the pass that read
-- the queues named after it to their streams' end ('' = none), ARGV[4..] those queues.
-- Returns {1 when the caller holds the lease afterwards else 0, Redis's clock in ms}.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  return {0, now_ms}
end
if ARGV[3] ~= '' then
  -- One HSET per 500 queues (not one per queue): an idle tick at 1,000 queues stays cheap.
  local fields = {}
  for i = 4, #ARGV do
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[3]
    if #fields == 1000 or i == #ARGV then
      redis.call('HSET', KEYS[2], unpack(fields))
      fields = {}
    end
  end
end
return {1, now_ms}
