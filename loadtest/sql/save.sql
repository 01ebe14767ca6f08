-- save: one statement, so one transaction on its own (no BEGIN/COMMIT round trips). Sets
-- question :question (1-based) of the participant's attempt to a random single choice, only
-- while the attempt is open and within its deadline with grace, and only if the choice fits the
-- question's kind and option count (safequiz's `choice`). An attempt found past its time is left
-- to the next start or submit, or to the sweeper (attempts_open_by_deadline), which finalize it.
\set bits 1 << random(0, 3)
UPDATE attempts
   SET answers = overlay(answers PLACING chr(48 + :bits::INT) FROM :question::INT FOR 1)
 WHERE attempt_id = :attempt_id::BIGINT
   AND participant_id = :participant::BIGINT
   AND finished_at_ms IS NULL
   AND now_ms() <= accepts_until_ms
   AND :question::INT <= length(answers)
   AND :bits::INT < (1 << substr(kinds, 2 * :question::INT, 1)::INT)
   AND (substr(kinds, 2 * :question::INT - 1, 1) = 'm' OR (:bits::INT & (:bits::INT - 1)) = 0);
