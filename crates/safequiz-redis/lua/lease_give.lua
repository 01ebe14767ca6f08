-- lease_give: gives back a shard's lease (lease.lua) if this worker holds it, so that another
-- takes the shard at once rather than when the lease runs out: a flusher holding more than its
-- share of the shards, or stopping (src/streams.rs, "The flusher's position").
--
-- KEYS[1] the shard's lease; ARGV[1] this worker's name
-- Returns 1 when it held the lease and gave it back, else 0.
--
-- Cost: a GET (and a DEL when held), per shard beyond the flusher's share at each pass, and per
-- shard at a stop.

if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
