SELECT sym, avg(px) AS px INTO TEMP daily FROM ticks GROUP BY sym
-- renders as (PostgreSQL's SELECT INTO makes a table; DuckDB would drop the INTO):
CREATE TEMPORARY TABLE daily AS SELECT sym, AVG(px) AS px FROM ticks GROUP BY sym
