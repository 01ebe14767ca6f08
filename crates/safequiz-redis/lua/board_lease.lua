-- board_lease: takes or extends a shard's board lease for a writer and tells it where to read
-- (src/board_writer.rs).
--
-- KEYS[1] the shard's board lease, KEYS[2] its board cursor, KEYS[3] the id of the last entry
-- whose unit totals are applied
-- ARGV[1] this writer's name, ARGV[2] the lease in ms
-- Returns false when another writer holds the lease; otherwise {cursor, applied}, '0-0' for
-- either when it is not set yet.
--
-- Cost: three GETs and a SET, once per pass and shard. The writer reads the entries past the
-- cursor itself, with a plain `XRANGE`: read inside a script, every field of every entry
-- became a Lua string, which cost Redis 10-11 µs an attempt entry against 1.7 for the
-- `XRANGE` and board_apply.lua together (docs/performance.md, "The board feed read by the
-- writer").

local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {redis.call('GET', KEYS[2]) or '0-0', redis.call('GET', KEYS[3]) or '0-0'}
