PIVOT trades ON sym USING sum(qty) GROUP BY day
-- renders as (DuckDB's statement as the query it is):
SELECT * FROM (PIVOT trades ON sym USING SUM(qty) GROUP BY day)
