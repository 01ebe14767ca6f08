-- The question counters keep a cell's days in one row (PostgreSQL only; SQLite keeps a row per
-- day): one row per unit, question, options chosen and correctness, its `answers` an array
-- indexed by the calendar day number itself (a PostgreSQL array may start at any index; days
-- never written are NULL). A report of any period sums its slice of each of the scope's rows,
-- so it reads one row per answer given in the scope, whatever the number of days: a county's
-- rows stop growing once its questions have met their answers, instead of growing with every
-- day on which they are met again, and the table holds far fewer rows (docs/design.md §5.5,
-- docs/performance.md).
--
-- `options` is the most options the question was shown with on any day (a bank's question
-- keeps its options; the per-day rows kept it per day).

CREATE FUNCTION question_counts_put_day(counts BIGINT[], day INTEGER, answers BIGINT)
    RETURNS BIGINT[] LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    counts[day] := answers;
    RETURN counts;
END
$$;
CREATE AGGREGATE question_counts_days(INTEGER, BIGINT) (
    SFUNC = question_counts_put_day,
    STYPE = BIGINT[]
);

CREATE TABLE question_cells (
    unit_key     INTEGER  NOT NULL,
    question_key INTEGER  NOT NULL,
    chosen       INTEGER  NOT NULL,
    correct      BOOLEAN  NOT NULL,
    options      INTEGER  NOT NULL,
    answers      BIGINT[] NOT NULL,
    PRIMARY KEY (unit_key, question_key, chosen, correct)
) WITH (fillfactor = 70);

INSERT INTO question_cells (unit_key, question_key, chosen, correct, options, answers)
SELECT unit_key, question_key, chosen, correct, MAX(options),
       question_counts_days(day, answers ORDER BY day)
FROM question_counts
GROUP BY unit_key, question_key, chosen, correct;

DROP TABLE question_counts;
ALTER TABLE question_cells RENAME TO question_counts;
ALTER TABLE question_counts RENAME CONSTRAINT question_cells_pkey TO question_counts_pkey;
DROP AGGREGATE question_counts_days(INTEGER, BIGINT);
DROP FUNCTION question_counts_put_day(BIGINT[], INTEGER, BIGINT);
