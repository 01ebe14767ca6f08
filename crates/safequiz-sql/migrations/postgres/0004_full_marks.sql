-- Whether an attempt has full marks, kept with the attempt so reports sum a column instead of
-- deciding the rule again in SQL. The flusher writes it from the domain's rule
-- (`safequiz_domain::score::is_full_marks`: the attempt has questions and every one is correct);
-- attempts recorded before this column existed are backfilled with the same rule here.

ALTER TABLE attempts ADD COLUMN full_marks BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE attempts
SET full_marks = jsonb_array_length(questions) > 0
    AND correct = jsonb_array_length(questions);

-- Every insert names the column; the default only served the rows above.
ALTER TABLE attempts ALTER COLUMN full_marks DROP DEFAULT;
