-- forget: removes attempts the flusher has written to SQL from their participants' hashes, so
-- that Redis holds per participant only the totals, the day counter, the open attempt and the
-- board entries, however many attempts they play (docs/design.md §2.5).
--
-- KEYS[1..K]  participant hashes, all of one shard (one hash tag, so one cluster slot)
-- ARGV[i]     for KEYS[i], the numbers of its flushed attempts joined by ","
-- Returns the number of attempts whose fields were removed.
--
-- Invariant: only a final attempt is forgotten (its n:r exists) and never the open one, so a
-- start, save, submit or read that comes later finds either the attempt as before or nothing;
-- for nothing with n <= seq they answer "archived" and the server reads the row from SQL. The
-- caller runs this only after the rows are committed.
--
-- Cost: one HMGET and one HDEL per participant. A participant with one attempt in the batch
-- (nearly all: the national rule allows one a day) takes a path without tables or iterators:
-- 5.3-7.3 µs of Redis CPU per attempt, against 10.0-10.8 when every participant took the
-- general one (docs/performance.md, "Forgetting without tables").

local forgotten = 0

-- Removes attempt n's fields from `key` when `final` (its n:r) and not `open`.
local function drop(key, n, final, open)
  if final and open ~= n then
    redis.call('HDEL', key, n .. ':t', n .. ':q', n .. ':k', n .. ':v', n .. ':a', n .. ':r')
    forgotten = forgotten + 1
  end
end

for i = 1, #KEYS do
  local key, numbers = KEYS[i], ARGV[i]
  if not string.find(numbers, ',', 1, true) then
    local found = redis.call('HMGET', key, 'open', numbers .. ':r')
    drop(key, numbers, found[2], found[1])
  else
    local fields = {'open'}
    for n in string.gmatch(numbers, '%d+') do
      fields[#fields + 1] = n .. ':r'
    end
    local found = redis.call('HMGET', key, unpack(fields))
    local j = 1
    for n in string.gmatch(numbers, '%d+') do
      j = j + 1
      drop(key, n, found[j], found[1])
    end
  end
end
return forgotten
