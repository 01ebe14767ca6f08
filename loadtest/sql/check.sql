-- The checks of the SQL-only journey: what the submits wrote must add up. Prints one line of
-- name=value pairs that loadtest/sql/run reads:
--   final, open           attempts of days :from_day to :to_day, final and still open
--   participant_mismatch  participants whose totals differ from the sum over their final attempts
--   unit_mismatch         unit totals rows (unit and slot) that differ from the sum over the
--                         final attempts of the participants below that unit in that slot
-- psql variables: from_day, to_day, slots.
\set ON_ERROR_STOP on
\pset tuples_only on
\pset format unaligned
WITH expected_participants AS (
    SELECT p.participant_id, p.attempts, p.points, p.time_used_ms, p.last_finish_ms,
           count(a.attempt_id) AS e_attempts, coalesce(sum(a.points), 0) AS e_points,
           coalesce(sum(a.time_used_ms), 0) AS e_time_used_ms,
           coalesce(max(a.finished_at_ms), 0) AS e_last_finish_ms
      FROM participants p
      LEFT JOIN attempts a ON a.participant_id = p.participant_id AND a.finished_at_ms IS NOT NULL
     GROUP BY p.participant_id
), expected_units AS (
    SELECT path.unit_id, (a.participant_id % :slots)::INT AS slot, sum(a.points) AS points,
           count(*) AS attempts, count(DISTINCT a.participant_id) AS participants,
           count(*) FILTER (WHERE a.correct = length(a.key)) AS full_marks
      FROM attempts a
      JOIN participants p USING (participant_id)
     CROSS JOIN LATERAL unnest(ARRAY['*', p.level1_id, p.level2_id, p.level3_id]) AS path (unit_id)
     WHERE path.unit_id IS NOT NULL AND a.finished_at_ms IS NOT NULL
     GROUP BY 1, 2
)
SELECT format('final=%s open=%s participant_mismatch=%s unit_mismatch=%s',
    (SELECT count(*) FROM attempts
      WHERE day BETWEEN :from_day AND :to_day AND finished_at_ms IS NOT NULL),
    (SELECT count(*) FROM attempts
      WHERE day BETWEEN :from_day AND :to_day AND finished_at_ms IS NULL),
    (SELECT count(*) FROM expected_participants
      WHERE (attempts, points, time_used_ms, last_finish_ms)
            IS DISTINCT FROM (e_attempts, e_points, e_time_used_ms, e_last_finish_ms)),
    (SELECT count(*) FROM unit_totals u
       FULL JOIN expected_units e USING (unit_id, slot)
      WHERE (coalesce(u.points, 0), coalesce(u.attempts, 0), coalesce(u.participants, 0),
             coalesce(u.full_marks, 0))
            IS DISTINCT FROM (coalesce(e.points, 0), coalesce(e.attempts, 0),
                              coalesce(e.participants, 0), coalesce(e.full_marks, 0))));
