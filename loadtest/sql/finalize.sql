-- finalize: one statement doing what safequiz's finalize does; the submit's whole transaction.
-- Scores attempt :attempt_id from its stored key (all-or-nothing per question: the saved set
-- equals the key), marks it final (automatically, at its deadline, when it is past its time with
-- grace), adds it to the participant's totals (the individual boards' order: points, time used,
-- last finish), and to the unit totals of "*" and of every unit on the participant's path in
-- the participant's slot: points, attempts, participants (on the first final attempt) and
-- full-mark attempts. Does nothing for an attempt already final, so a repeated submit or a
-- sweep after a submit counts it once. Answers the score, key and answers, as safequiz's submit.
-- Deadlock-free: each statement locks its attempt, then its participant, then unit_totals rows
-- in the primary key's order (a B-tree scan of "= ANY" sorts the array).
WITH scored AS (
    UPDATE attempts a
       SET finished_at_ms = CASE WHEN now_ms() > a.accepts_until_ms THEN a.deadline_ms
                                 ELSE now_ms() END,
           time_used_ms = CASE WHEN now_ms() > a.accepts_until_ms THEN a.deadline_ms
                               ELSE least(now_ms(), a.deadline_ms) END - a.started_at_ms,
           auto_submitted = now_ms() > a.accepts_until_ms,
           (correct, points) = (
               SELECT c, c * :points_per_question::INT
                 FROM (SELECT count(*)::INT AS c
                         FROM generate_series(1, length(a.key)) AS i
                        WHERE substr(a.answers, i, 1) <> '0'
                          AND substr(a.answers, i, 1) = substr(a.key, i, 1)) AS x)
     WHERE a.attempt_id = :attempt_id::BIGINT
       AND a.participant_id = :participant::BIGINT
       AND a.finished_at_ms IS NULL
    RETURNING a.participant_id, a.points, a.correct, a.time_used_ms, a.finished_at_ms,
              a.correct = length(a.key) AS full_marks, a.key, a.answers
), totals AS (
    UPDATE participants p
       SET attempts = p.attempts + 1,
           points = p.points + s.points,
           time_used_ms = p.time_used_ms + s.time_used_ms,
           last_finish_ms = greatest(p.last_finish_ms, s.finished_at_ms),
           open_attempt_id = CASE WHEN p.open_attempt_id = :attempt_id::BIGINT THEN 0
                                  ELSE p.open_attempt_id END
      FROM scored s
     WHERE p.participant_id = s.participant_id
    RETURNING p.participant_id, p.level1_id, p.level2_id, p.level3_id,
              p.attempts = 1 AS first, s.points, s.full_marks
), unit_rows AS (
    UPDATE unit_totals u
       SET points = u.points + t.points,
           attempts = u.attempts + 1,
           participants = u.participants + t.first::INT,
           full_marks = u.full_marks + t.full_marks::INT
      FROM totals t
     WHERE u.slot = (t.participant_id % :slots::INT)::INT
       AND u.unit_id = ANY (ARRAY['*', t.level1_id, t.level2_id, t.level3_id])
    RETURNING u.unit_id
)
SELECT s.points, s.correct, s.key, s.answers, (SELECT count(*) FROM unit_rows) AS units
  FROM scored s;
