-- start: starts today's attempt, or returns the open one (resume).
--
-- ARGV[REST..]: day number, attempts per day, started, deadline, accepts-until (ms), then the
-- drawn questions, their key and their kinds (see the prelude for the encodings).
-- Returns the record of the attempt with status "created" or "resumed", or {"limit"} when the
-- day's attempts are used up.
--
-- Invariant: one open attempt per participant. An open attempt whose time (with grace) has run
-- out is finalized here first, so a start never waits for the sweeper.

local open = redis.call('HGET', P, 'open')
if open then
  local _, _, _, _, accepts = times(open)
  if NOW <= accepts then return record('resumed', open) end
  finalize(open, 1)
end

local day = ARGV[REST]
local per_day = tonumber(ARGV[REST + 1])
local last = redis.call('HMGET', P, 'day', 'dn')
local used = 0
if last[1] == day then used = tonumber(last[2]) end
if used >= per_day then return {'limit'} end

local n = redis.call('HINCRBY', P, 'seq', 1)
local key = ARGV[REST + 6]
redis.call('HSET', P,
  n .. ':t', day .. ',' .. ARGV[REST + 2] .. ',' .. ARGV[REST + 3] .. ',' .. ARGV[REST + 4],
  n .. ':q', ARGV[REST + 5], n .. ':k', key, n .. ':v', ARGV[REST + 7],
  n .. ':a', string.rep('0', #key),
  'open', n, 'day', day, 'dn', used + 1)
redis.call('ZADD', DEADLINES, ARGV[REST + 4], PID .. '-' .. n .. ' ' .. UNIT)
return record('created', n)
