-- exclusion: excludes a participant's results from the unit totals and the individual boards,
-- or undoes that (issue 21, docs/fair-play.md; src/exclusions.rs).
--
-- KEYS[1] the participant's hash, KEYS[2] the shard's stream
-- ARGV[1] "exclude" or "include", ARGV[2] the instant (Unix ms), ARGV[3] the organizer's reason,
-- ARGV[4] the participant id, ARGV[5] the participant's unit path, ids joined by ",", root
-- first.
-- Returns 1 when it changed the participant, 0 when they already were in that state.
--
-- Excluding sets `x` (the instant) and `xr` (the reason) in the hash, which `me` reads and
-- finalize copies into each later attempt entry as `excluded` (attempt_prelude.lua); undoing
-- removes them. Either way one entry goes to the shard's stream, in order with the
-- participant's attempt entries, carrying their totals as they are now: everything the entries
-- before it applied (attempts, counted points and time, full-mark attempts, last finish). The
-- board writer takes exactly that off the unit totals and their member off every board of the
-- path, or puts it back (src/board_writer.rs); attempt entries marked
-- `excluded` apply nothing in between. So an undo restores totals and boards as if the
-- exclusion had never been, attempts made meanwhile included.
--
-- Invariant: the hash's totals keep counting while excluded; only what the boards and unit
-- totals hold changes, and only through the stream.

local excluded = redis.call('HEXISTS', KEYS[1], 'x') == 1
local exclude = ARGV[1] == 'exclude'
if excluded == exclude then return 0 end
if exclude then
  redis.call('HSET', KEYS[1], 'x', ARGV[2], 'xr', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'x', 'xr')
end
local t = redis.call('HMGET', KEYS[1], 'att', 'pts', 'ms', 'fm', 'last')
redis.call('XADD', KEYS[2], '*',
  'type', exclude and 'exclusion' or 'inclusion', 'participant', ARGV[4],
  'attempts', t[1] or '0', 'total_points', t[2] or '0', 'total_time', t[3] or '0',
  'full_marks', t[4] or '0', 'last', t[5] or '0', 'path', ARGV[5], 'at', ARGV[2])
return 1
