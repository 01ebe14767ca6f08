-- Scores a practice attempt with all its answers, appends it to the day's history and deletes
-- it: nothing of it is left but one short history line, which expires at the end of the day.
--
-- KEYS[1] the practice attempt hash    KEYS[2] the day's practice history (a list)
-- ARGV[1] now (ms)    ARGV[2] points per question    ARGV[3] history length kept
-- ARGV[4] ms to the end of the day
-- ARGV[5..] two per question, in display order: the answer read as letters A-F, and read as
--           T/F (as `ChoiceArg`: a bit set, or -1 when the keys are not of that reading)
--
-- History line: `started,finished,time_used,correct,questions,points`.
-- Replies: {"done", q, k, answers, correct, points, time_used, finished}
--        | {"gone"} (no open practice: never started, submitted, or expired)
--        | {"late"} (after the grace; deleted) | {"invalid", index} (1-based)

local now = tonumber(ARGV[1])
local open = redis.call('HMGET', KEYS[1], 't', 'q', 'k', 'v')
if not open[1] then
  return {'gone'}
end
local started, deadline, accepts_until = string.match(open[1], '^(%d+),(%d+),(%d+)$')
started, deadline, accepts_until = tonumber(started), tonumber(deadline), tonumber(accepts_until)
if now > accepts_until then
  redis.call('DEL', KEYS[1])
  return {'late'}
end
local key, kinds = open[3], open[4]
local n = #key
if #ARGV ~= 4 + 2 * n then
  return {'invalid', '0'}
end
local answers = {}
local correct = 0
for i = 1, n do
  local kind = string.sub(kinds, 2 * i - 1, 2 * i - 1)
  local options = tonumber(string.sub(kinds, 2 * i, 2 * i))
  local set = tonumber(ARGV[4 + 2 * i - 1])
  if kind == 't' then
    set = tonumber(ARGV[4 + 2 * i])
  end
  if set < 0 or set >= 2 ^ options then
    return {'invalid', tostring(i)}
  end
  if kind ~= 'm' and set ~= 0 and set ~= 1 and set ~= 2 and set ~= 4 and set ~= 8
      and set ~= 16 and set ~= 32 then
    return {'invalid', tostring(i)}
  end
  local char = string.char(48 + set)
  answers[i] = char
  if char == string.sub(key, i, i) then
    correct = correct + 1
  end
end
local points = correct * tonumber(ARGV[2])
local used = math.min(now, deadline) - started
local line = started .. ',' .. now .. ',' .. used .. ',' .. correct .. ',' .. n .. ',' .. points
redis.call('LPUSH', KEYS[2], line)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', KEYS[2], math.max(1, tonumber(ARGV[4])))
redis.call('DEL', KEYS[1])
return {'done', open[2], key, table.concat(answers), tostring(correct), tostring(points),
  tostring(used), tostring(now)}
