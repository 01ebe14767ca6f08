-- Whether an attempt has full marks, kept with the attempt so reports sum a column instead of
-- deciding the rule again in SQL. The flusher writes it from the domain's rule
-- (`safequiz_domain::score::is_full_marks`: the attempt has questions and every one is correct);
-- attempts recorded before this column existed are backfilled with the same rule here.

ALTER TABLE attempts ADD COLUMN full_marks INTEGER NOT NULL DEFAULT 0;

UPDATE attempts
SET full_marks = CASE
    WHEN json_array_length(questions) > 0 AND correct = json_array_length(questions) THEN 1
    ELSE 0
END;
