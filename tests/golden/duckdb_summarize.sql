SUMMARIZE trades
-- renders as (DuckDB's statement as the query it is, planned and checked as any other):
SELECT * FROM (SUMMARIZE trades)
