alter table orders rename qty to quantity
-- renders as (a column's rename, as in PostgreSQL and DuckDB, where COLUMN may be left out):
ALTER TABLE orders RENAME COLUMN qty TO quantity
