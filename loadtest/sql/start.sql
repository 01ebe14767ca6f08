-- start: one statement (open-attempt.sql), so one transaction on its own with no BEGIN/COMMIT
-- round trips. Only when the participant's open attempt has run out of time (the client never
-- submitted and no sweeper came by) does it take a second transaction: finalize that attempt
-- automatically (finalize.sql), then start again, as safequiz's start does so that a start never
-- waits for the sweeper. Leaves attempt_id set to the attempt to play, 0 for none.
-- @include open-attempt.sql
\if :expired
BEGIN;
\set attempt_id :open_id
-- @include finalize.sql
-- @include open-attempt.sql
COMMIT;
\endif
