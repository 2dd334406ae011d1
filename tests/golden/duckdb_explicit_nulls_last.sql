select i from t order by i nulls last, j desc nulls last, k nulls first, row_number() over (order by m nulls last)
-- renders as (NULLS LAST kept as written: it is DuckDB's default only until SET default_null_order changes it):
SELECT i FROM t ORDER BY i NULLS LAST, j DESC NULLS LAST, k NULLS FIRST, ROW_NUMBER() OVER (ORDER BY m NULLS LAST)
