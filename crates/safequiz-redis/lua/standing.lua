-- standing: a participant's totals and today's counter, for `me` (src/boards.rs reads them in
-- STANDING_FIELDS' order). A read, written as an attempt operation only so that it joins the
-- group commit: a view of the result page right after a submit shares the script call of the
-- attempts in flight instead of paying a request of its own (issue 22).
--
-- KEYS and ARGV[1..REST-1]: the prelude's (attempt_prelude.lua); only the participant's hash is
-- read, and now, the scoring and the path are not.
-- Returns the fields pts, ms, att, last, open, day, dn, pl, x, "" for one the hash lacks.

local f = redis.call('HMGET', P, 'pts', 'ms', 'att', 'last', 'open', 'day', 'dn', 'pl', 'x')
for i = 1, 9 do
  if not f[i] then f[i] = '' end
end
return f
