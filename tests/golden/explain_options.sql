explain analyse (format 'json', analyze false) select 1
-- renders as (DuckDB's options of EXPLAIN, ANALYSE its other spelling; the last ANALYZE wins):
EXPLAIN (FORMAT json) SELECT 1
