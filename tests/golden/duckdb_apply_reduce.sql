select apply([1, 2, 3], lambda x: x + 1), reduce([1, 2, 3], lambda a, b: a + b, 10)
-- renders as (DuckDB's list functions as written: sqlglot read apply as ClickHouse's APPLY and reduce as Spark's):
SELECT APPLY([1, 2, 3], LAMBDA x : x + 1), REDUCE([1, 2, 3], LAMBDA a, b : a + b, 10)
