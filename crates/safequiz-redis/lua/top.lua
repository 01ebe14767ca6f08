-- top: the best `limit` of one shard's individual board with each participant's person record,
-- in one call per shard (the individual board), instead of a ZRANGE and then one HGET per row.
--
-- KEYS[1] an individual board of one shard, KEYS[2] the same shard's people
-- ARGV[1] limit (1 or more)
-- Returns {member, score, person, member, score, person, ...} best first: the board's member
-- and score as stored, and the person record "name\tmasked phone\tunit\tregistered ms" (nil if
-- missing). The caller merges the shards' lists in the published order and keeps `limit`.
--
-- Invariant: read-only.
--
-- Cost: one ZRANGE of `limit` (O(log n + limit)) and one HMGET of the same ids (O(limit)); at
-- limit 100 this replaces about 100 separate HGETs, each with its own command dispatch.

local rows = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
if #rows == 0 then return {} end
local ids = {}
for i = 1, #rows, 2 do
  -- BoardMember: the last 12 of 25 digits are the participant id, people's field its decimal.
  ids[#ids + 1] = string.format('%d', tonumber(string.sub(rows[i], 14)))
end
local people = redis.call('HMGET', KEYS[2], unpack(ids))
local reply = {}
for i = 1, #ids do
  reply[#reply + 1] = rows[2 * i - 1]
  reply[#reply + 1] = rows[2 * i]
  reply[#reply + 1] = people[i]
end
return reply
