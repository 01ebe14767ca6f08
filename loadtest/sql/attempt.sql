-- One attempt as safequiz's ceiling plays it, the SQL-only way: a start, 5 saves and a submit,
-- seven transactions of one statement each, so pgbench's "transactions" are attempts.
-- loadtest/sql/run expands the "@include" lines (its `expand`) and runs the result with
-- `pgbench -M prepared`.
-- @include pick.sql
-- @include start.sql
\if :attempt_id > 0
\set question 1
-- @include save.sql
\set question 2
-- @include save.sql
\set question 3
-- @include save.sql
\set question 4
-- @include save.sql
\set question 5
-- @include save.sql
-- submit:
-- @include finalize.sql
\endif
