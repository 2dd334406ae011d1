create or replace recursive view nums (n) as select 1 union all select n + 1 from nums where n < 5
-- renders as (PostgreSQL's and DuckDB's recursive view, as they define it: a view of a recursive CTE of its name):
CREATE OR REPLACE VIEW nums AS WITH RECURSIVE nums(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM nums WHERE n < 5) SELECT n FROM nums
