select ts + interval '1 month ago', ts - interval '2 days 3 hours ago', interval '1 month' from ticks
-- renders as (DuckDB's "ago" negates; sqlglot read '1 month ago' as '1' MONTH):
SELECT ts + INTERVAL '1 month ago', ts - INTERVAL '2 days 3 hours ago', INTERVAL '1' MONTH FROM ticks
