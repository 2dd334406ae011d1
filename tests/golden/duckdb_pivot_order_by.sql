pivot trades using sum(qty) group by day order by day limit 5
-- renders as (DuckDB's PIVOT without ON aggregates by the groups; sqlglot wrote UNPIVOT trades, and stopped at ORDER BY):
SELECT * FROM (PIVOT trades USING SUM(qty) GROUP BY day) ORDER BY day LIMIT 5
