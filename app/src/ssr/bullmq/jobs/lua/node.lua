-- One node of a flow: the job's name, state, progress, parent, and its children (their full
-- keys, at most ARGV[3] of each kind), in one round trip.
-- KEYS: 1 the job's hash; ARGV: 1 the queue's key base, 2 the job id, 3 children per kind.
-- Returns {} when the key holds no job, else {name, state, progress, parent key, parent JSON,
-- children count, children keys}.
local job, base, id, most = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if not is_job(job) then
  return {}
end
local f = redis.call('HMGET', job, 'name', 'progress', 'parentKey', 'parent')
local processed = redis.call('HLEN', job .. ':processed')
local pending = redis.call('SCARD', job .. ':dependencies')
local unsuccessful = redis.call('ZCARD', job .. ':unsuccessful')
local ignored = redis.call('HLEN', job .. ':failed')
local children = {}

-- At most `most` members of a set or fields of a hash, walked with SSCAN/HSCAN.
local function scan(command, key)
  local found = 0
  local cursor = '0'
  repeat
    local reply = redis.call(command, key, cursor, 'COUNT', most)
    cursor = reply[1]
    local step = command == 'HSCAN' and 2 or 1
    for i = 1, #reply[2], step do
      if found >= most then
        return
      end
      children[#children + 1] = reply[2][i]
      found = found + 1
    end
  until cursor == '0'
end

scan('HSCAN', job .. ':processed')
scan('SSCAN', job .. ':dependencies')
for _, key in ipairs(redis.call('ZRANGE', job .. ':unsuccessful', 0, most - 1)) do
  children[#children + 1] = key
end
scan('HSCAN', job .. ':failed')
return {f[1] or '', job_state(base, id), f[2] or '', f[3] or '', f[4] or '',
  processed + pending + unsuccessful + ignored, children}
