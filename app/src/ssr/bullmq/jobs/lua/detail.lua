-- A job's fields, state and counts, in one round trip.
-- KEYS: 1 the job's hash; ARGV: 1 the queue's key base, 2 the job id, 3 the most bytes of
-- `data` and `returnvalue` returned (longer ones are cut; their full length is returned).
-- Returns {} when the key holds no job, else {state, fields (flat), data length,
-- returnvalue length, log lines, pending children, processed children, delayed score}.
local job, base, id, cap = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if not is_job(job) then
  return {}
end
local fields = redis.call('HGETALL', job)
local data_length, return_length = 0, 0
for i = 1, #fields, 2 do
  local name = fields[i]
  if name == 'data' then
    data_length = #fields[i + 1]
    fields[i + 1] = utf8_cut(fields[i + 1], cap)
  elseif name == 'returnvalue' then
    return_length = #fields[i + 1]
    fields[i + 1] = utf8_cut(fields[i + 1], cap)
  end
end
local delayed = redis.call('ZSCORE', base .. 'delayed', id) or ''
return {job_state(base, id), fields, data_length, return_length,
  redis.call('LLEN', job .. ':logs'), redis.call('SCARD', job .. ':dependencies'),
  redis.call('HLEN', job .. ':processed'), delayed}
