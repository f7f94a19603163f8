-- Shared by the explorer's read scripts (prepended to them).

-- `s` cut to at most `n` bytes on a UTF-8 character boundary.
local function utf8_cut(s, n)
  if #s <= n then
    return s
  end
  local cut = string.sub(s, 1, n)
  local last = #cut
  -- Drop continuation bytes, then the lead byte of the character they belonged to.
  while last > 0 do
    local byte = string.byte(cut, last)
    if byte >= 0x80 and byte < 0xC0 then
      last = last - 1
    else
      if byte >= 0xC0 then
        last = last - 1
      end
      break
    end
  end
  return string.sub(cut, 1, last)
end

-- The fields a list row shows, read from a job hash; nil when the hash is gone (the job was
-- removed since its id was read) or is no job's.
local summary_fields = {'name', 'timestamp', 'processedOn', 'finishedOn', 'delay', 'priority',
  'progress', 'atm', 'attemptsMade', 'ats', 'failedReason', 'data'}

local function summary(job_key, preview)
  local f = redis.call('HMGET', job_key, unpack(summary_fields))
  if not f[2] then
    return nil
  end
  local reason = f[11]
  if reason then
    local newline = string.find(reason, '\n', 1, true)
    if newline then
      reason = string.sub(reason, 1, newline - 1)
    end
    reason = utf8_cut(reason, 300)
  end
  local data = f[12] or ''
  return {f[1] or '', f[2] or '', f[3] or '', f[4] or '', f[5] or '', f[6] or '', f[7] or '',
    f[8] or f[9] or '', f[10] or '', reason or '', utf8_cut(data, preview + 1), tostring(#data)}
end

-- Whether an id is a legacy (BullMQ ≤ 4) marker, not a job.
local function is_marker(id)
  return string.sub(id, 1, 2) == '0:'
end
