-- The start's statement, one transaction on its own. Locks the participant's row (two starts of
-- one participant run one after the other, like safequiz's start script), inserts today's
-- attempt when none is open, unless today's is already taken (the unique (participant_id, day)
-- finds it: safequiz's "limit"), and sets:
--   attempt_id  the attempt to play: the new one, or the open one while it takes answers
--               (resume); 0 when there is none (limit, or expired below)
--   open_id     the open attempt found, 0 for none
--   expired     1 when the open attempt's time with grace has run out (start.sql finalizes it)
-- An open attempt that this statement's snapshot cannot see was opened by a start that
-- committed while this one waited for the lock: it has just begun, so it is resumed.
-- The questions and their key are drawn by the application (at random here, like safequiz's
-- draw in its domain crate), which also checks the campaign's window without the database.
\set q1 random(1, 1200)
\set q2 random(1, 1200)
\set q3 random(1, 1200)
\set q4 random(1, 1200)
\set q5 random(1, 1200)
\set k1 1 << random(0, 3)
\set k2 1 << random(0, 3)
\set k3 1 << random(0, 3)
\set k4 1 << random(0, 3)
\set k5 1 << random(0, 3)
WITH p AS (
    SELECT participant_id, open_attempt_id FROM participants
     WHERE participant_id = :participant::BIGINT
       FOR UPDATE
), created AS (
    INSERT INTO attempts (participant_id, day, started_at_ms, deadline_ms, accepts_until_ms,
                          questions, key, kinds, answers)
    SELECT p.participant_id, :day::INT, now_ms(), now_ms() + :time_limit_ms::BIGINT,
           now_ms() + :time_limit_ms::BIGINT + :grace_ms::BIGINT,
           format('%s/0123,%s/1302,%s/2031,%s/3210,%s/0321',
                  :q1::INT, :q2::INT, :q3::INT, :q4::INT, :q5::INT),
           chr(48 + :k1::INT) || chr(48 + :k2::INT) || chr(48 + :k3::INT)
               || chr(48 + :k4::INT) || chr(48 + :k5::INT),
           's4s4s4s4s4', '00000'
      FROM p
     WHERE p.open_attempt_id = 0
    ON CONFLICT (participant_id, day) DO NOTHING
    RETURNING attempt_id, participant_id
), opened AS (
    UPDATE participants q SET open_attempt_id = c.attempt_id
      FROM created c
     WHERE q.participant_id = c.participant_id
    RETURNING c.attempt_id
)
SELECT CASE WHEN o.attempt_id IS NOT NULL THEN o.attempt_id
            WHEN p.open_attempt_id > 0 AND coalesce(now_ms() <= a.accepts_until_ms, TRUE)
                THEN p.open_attempt_id
            ELSE 0 END AS attempt_id,
       p.open_attempt_id AS open_id,
       CASE WHEN p.open_attempt_id > 0 AND now_ms() > a.accepts_until_ms THEN 1 ELSE 0 END
           AS expired
  FROM p
  LEFT JOIN opened o ON TRUE
  LEFT JOIN attempts a ON a.attempt_id = p.open_attempt_id \gset
