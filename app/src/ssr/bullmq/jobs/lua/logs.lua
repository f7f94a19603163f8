-- A page of a job's log lines, as BullMQ's `getJobLogs` reads them, after checking the key is
-- a job's. KEYS: 1 the job's hash; ARGV: 1 start, 2 end (inclusive), 3 "asc" | "desc".
-- Returns {} when the key holds no job, else {line count, lines…}.
local job, first, last, asc = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == 'asc'
if not is_job(job) then
  return {}
end
local key = job .. ':logs'
local lines
if asc then
  lines = redis.call('LRANGE', key, first, last)
else
  local chunk = redis.call('LRANGE', key, -(last + 1), -(first + 1))
  lines = {}
  for i = #chunk, 1, -1 do
    lines[#lines + 1] = chunk[i]
  end
end
local out = {redis.call('LLEN', key)}
for _, line in ipairs(lines) do
  out[#out + 1] = line
end
return out
