-- lease: takes or extends a shard's lease for one worker and tells it where to read: the board
-- writer's (src/board_writer.rs) and the flusher's (src/streams.rs, "The flusher's position").
-- One worker at a time works on a shard's stream, past cursors only the holder moves.
--
-- KEYS[1] the lease, KEYS[2..] the cursors the worker reads from: the board writer's cursor
-- and the last entry whose unit totals are applied; the flusher's position.
-- ARGV[1] this worker's name, ARGV[2] the lease in ms
-- Returns false when another worker holds the lease; otherwise each cursor, '0-0' when it is
-- not set yet.
--
-- Cost: a GET per key and a SET, once per pass and shard. The worker reads the entries past
-- the cursor itself, with a plain `XRANGE`: read inside a script, every field of every entry
-- became a Lua string, which cost Redis 10-11 µs an attempt entry against 1.7 for the
-- `XRANGE` and board_apply.lua together (docs/performance.md, "The board feed read by the
-- writer"); read through a consumer group, the flusher's `XREADGROUP` and `XACK` cost 5.6-6.4
-- µs and 212 AOF bytes an entry against 1.5-1.7 µs and none (docs/performance.md, "The
-- flusher by position").

local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local cursors = {}
for i = 2, #KEYS do cursors[i - 1] = redis.call('GET', KEYS[i]) or '0-0' end
return cursors
