SHOW trades
-- renders as (DuckDB's SHOW of a table is its DESCRIBE):
DESCRIBE trades
