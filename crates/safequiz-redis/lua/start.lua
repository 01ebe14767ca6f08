-- start: starts today's attempt, or returns the open one (resume).
--
-- KEYS and ARGV[1..REST-1]: the prelude's (attempt_prelude.lua).
-- ARGV[REST..]: day number, attempts per day, started, deadline, accepts-until (ms), then the
-- drawn questions, their key and their kinds (n:q, n:k and n:v in the prelude's encodings),
-- then the attempts allowed over the whole campaign ("0": no cap; absent counts as 0).
-- Returns the record of the attempt with status "created" or "resumed", {"limit"} when the
-- day's attempts are used up, or {"total_limit"} when the campaign's are.
--
-- Invariants: one open attempt per participant, at most the day's allowance of starts (day and
-- dn count them) and at most the campaign's (seq counts them). An open attempt whose time (with
-- grace) has run out is finalized here first, so a start never waits for the sweeper.
--
-- Cost: one HMGET, the attempt's fields in one HSET, an RPUSH of its answers and a ZADD to the
-- deadline index. Inside the group commit's calls (attempt_batch.lua) a start costs Redis 16-39
-- µs of CPU, median 24, the request and the AOF included (`loadtest/run`'s per-script phase:
-- 3,000 starts alone, six ceilings, 2026-12-07; docs/performance.md).

local last = redis.call('HMGET', P, 'open', 'day', 'dn', 'seq')
local open = last[1]
if open and open ~= '0' then
  local f = load(open)
  if NOW <= accepts_until(f[1]) then return record('resumed', open, f) end
  finalize(open, 1, f, f[3])
end

local total = tonumber(own(8) or 0)
if total > 0 and tonumber(last[4] or 0) >= total then return {'total_limit'} end

local day = ARGV[REST]
local per_day = tonumber(ARGV[REST + 1])
local used = 0
if last[2] == day then used = tonumber(last[3]) end
if used >= per_day then return {'limit'} end

local n = string.format('%d', tonumber(last[4] or 0) + 1)
local key = ARGV[REST + 6]
local t = day .. ',' .. ARGV[REST + 2] .. ',' .. ARGV[REST + 3] .. ',' .. ARGV[REST + 4]
local answers = string.rep('0', #key)
redis.call('HSET', P,
  n .. ':t', t, n .. ':q', ARGV[REST + 5], n .. ':k', key, n .. ':v', ARGV[REST + 7],
  'seq', n, 'open', n, 'day', day, 'dn', used + 1)
-- The open attempt's answers, one element per question (the prelude's answers list).
if #key > 0 then
  local unanswered = {}
  for i = 1, #key do unanswered[i] = '0' end
  redis.call('RPUSH', answers_list(n), unpack(unanswered))
end
redis.call('ZADD', DEADLINES, ARGV[REST + 4], PID .. '-' .. n .. ' ' .. own_unit())
-- The same shape as `record`, without reading back what was just written.
return {'created', n, t, ARGV[REST + 5], answers, ARGV[REST + 7], '', ''}
