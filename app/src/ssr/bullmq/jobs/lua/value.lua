-- One of a job's values (`data` or `returnvalue`) whole, when it is not over the cap.
-- KEYS: 1 the job's hash; ARGV: 1 the field, 2 the cap in bytes.
-- Returns {} when the key holds no job, {length} when over the cap, else {length, value}.
local job, field, cap = KEYS[1], ARGV[1], tonumber(ARGV[2])
if not is_job(job) then
  return {}
end
local length = redis.call('HSTRLEN', job, field)
if length > cap then
  return {length}
end
return {length, redis.call('HGET', job, field) or ''}
