-- Starts a practice attempt (练功房), or resumes the open one. Practice never touches the
-- participant's hash, the totals, the boards, the deadlines index or the stream: its attempt is
-- one hash of its own that expires when its grace ends, and the day's count one counter that
-- expires at the end of the day (`practice.rs`).
--
-- KEYS[1] the practice attempt hash    KEYS[2] the day's practice counter
-- ARGV[1] now (ms)          ARGV[2] cap per day (0: unlimited)
-- ARGV[3] started (ms)      ARGV[4] deadline (ms)      ARGV[5] accepts until (ms)
-- ARGV[6] questions (`id/order,...`)    ARGV[7] key (one character per question)
-- ARGV[8] kinds (two characters per question)         ARGV[9] ms to the end of the day
--
-- Fields of the attempt hash: `t` = `started,deadline,accepts_until`, `q`, `k`, `v`.
-- Replies: {"resumed", t, q, v, count} | {"created", t, q, v, count} | {"limit", count}

local now = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local open = redis.call('HMGET', KEYS[1], 't', 'q', 'v')
local count = tonumber(redis.call('GET', KEYS[2]) or '0')
if open[1] then
  local accepts_until = tonumber(string.match(open[1], '^%d+,%d+,(%d+)$'))
  if accepts_until and now <= accepts_until then
    return {'resumed', open[1], open[2], open[3], tostring(count)}
  end
  redis.call('DEL', KEYS[1])
end
if cap > 0 and count >= cap then
  return {'limit', tostring(count)}
end
local times = ARGV[3] .. ',' .. ARGV[4] .. ',' .. ARGV[5]
redis.call('HSET', KEYS[1], 't', times, 'q', ARGV[6], 'k', ARGV[7], 'v', ARGV[8])
-- Gone one second after its grace ends, whether or not it was submitted.
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(ARGV[5]) - now + 1000))
count = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], math.max(1, tonumber(ARGV[9])))
return {'created', times, ARGV[6], ARGV[8], tostring(count)}
