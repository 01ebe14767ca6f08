-- erase: removes one participant's name and phone from the hot state (issue 20, a person
-- deleting their registration).
--
-- KEYS[1] the shard's phone index (hash: keyed phone hash -> participant id)
-- KEYS[2] the shard's people (hash: participant id -> "name\tmasked phone\tunit\tregistered ms")
-- ARGV: the keyed phone hash (hex) the person typed to confirm, their participant id.
-- Returns {"erased", unit, registered ms} (unit "" when the people entry is missing), or
-- {"mismatch"} when the phone does not name this participant (a wrong number, or already erased).
--
-- The phone index entry goes, so the phone registers afresh as a new participant; the people
-- entry stays with an empty name and masked phone, so the participant's board entries, totals
-- and the shard's people count (what reconcile compares) are unchanged: an anonymous row.

local id = redis.call('HGET', KEYS[1], ARGV[1])
if id ~= ARGV[2] then return {'mismatch'} end
redis.call('HDEL', KEYS[1], ARGV[1])
local person = redis.call('HGET', KEYS[2], id)
if not person then return {'erased', '', '0'} end
local unit, registered = string.match(person, '^[^\t]*\t[^\t]*\t([^\t]*)\t([^\t]*)')
unit = unit or ''
registered = registered or '0'
redis.call('HSET', KEYS[2], id, '\t\t' .. unit .. '\t' .. registered)
return {'erased', unit, registered}
