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

local forgotten = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local numbers = {}
  local fields = {'open'}
  for n in string.gmatch(ARGV[i], '%d+') do
    numbers[#numbers + 1] = n
    fields[#fields + 1] = n .. ':r'
  end
  local found = redis.call('HMGET', key, unpack(fields))
  local drop = {}
  for j, n in ipairs(numbers) do
    if found[j + 1] and found[1] ~= n then
      for _, suffix in ipairs({':t', ':q', ':k', ':v', ':a', ':r'}) do
        drop[#drop + 1] = n .. suffix
      end
      forgotten = forgotten + 1
    end
  end
  if #drop > 0 then redis.call('HDEL', key, unpack(drop)) end
end
return forgotten
