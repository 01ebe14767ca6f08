-- flushers: says that a flusher is running (or has stopped) and counts those running, so that
-- each holds its share of the shards (src/streams.rs, "The flusher's position").
--
-- KEYS[1] the set of running flushers (name -> the instant, ms, it stops counting as running)
-- ARGV[1] this flusher's name, ARGV[2] how long it counts as running unless it says so again,
-- ms; "0" when it stops
-- Returns how many flushers are running, this one included unless it stops.
--
-- Redis's clock decides who is running, one clock for every flusher; no rule of the contest
-- depends on it.
--
-- Cost: a TIME, a ZREMRANGEBYSCORE, a ZADD and a ZCARD on a set of a few members, once per pass
-- of each flusher (every 500 ms or less).

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now))
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return redis.call('ZCARD', KEYS[1])
