-- A question cell's `answers` holds its running total by day instead of each day's count
-- (PostgreSQL only): the element of a day is the cell's answers from its first day up to that
-- day, and every day from the first to the last has one (no NULL gaps). A report of any period
-- then reads two elements of each of the scope's rows (the total at the period's end less the
-- total before its start) instead of adding up the period's slice, so its cost no longer grows
-- with the days of the period, nor with the days on which a cell was met (docs/design.md §5.5,
-- docs/performance.md).

CREATE FUNCTION question_counts_running(counts BIGINT[])
    RETURNS BIGINT[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    total BIGINT := 0;
BEGIN
    FOR day IN array_lower(counts, 1) .. array_upper(counts, 1) LOOP
        total := total + COALESCE(counts[day], 0);
        counts[day] := total;
    END LOOP;
    RETURN counts;
END
$$;

CREATE TABLE question_running (
    unit_key     INTEGER  NOT NULL,
    question_key INTEGER  NOT NULL,
    chosen       INTEGER  NOT NULL,
    correct      BOOLEAN  NOT NULL,
    options      INTEGER  NOT NULL,
    answers      BIGINT[] NOT NULL,
    PRIMARY KEY (unit_key, question_key, chosen, correct)
) WITH (fillfactor = 70);

INSERT INTO question_running (unit_key, question_key, chosen, correct, options, answers)
SELECT unit_key, question_key, chosen, correct, options, question_counts_running(answers)
FROM question_counts
ORDER BY unit_key, question_key, chosen, correct;

DROP TABLE question_counts;
ALTER TABLE question_running RENAME TO question_counts;
ALTER TABLE question_counts RENAME CONSTRAINT question_running_pkey TO question_counts_pkey;
DROP FUNCTION question_counts_running(BIGINT[]);
