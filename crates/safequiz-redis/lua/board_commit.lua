-- board_commit: moves a shard's board cursor past the entries a writer has applied, if it still
-- holds the shard (src/board_writer.rs).
--
-- KEYS[1] the shard's board lease, KEYS[2] its board cursor
-- ARGV[1] this writer's name, ARGV[2] the id of the last entry applied
-- Returns 1 when the cursor moved, 0 when the lease has passed to another writer (which then
-- applies the same entries again, in the same order: harmless, see board_writer.rs).

if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
