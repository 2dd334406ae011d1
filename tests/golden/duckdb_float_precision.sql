create table frame (c float(53), d float(10), e float)
-- renders as (FLOAT(p), SQL's and PostgreSQL's, as DuckDB reads it: DOUBLE past 24 bits, else FLOAT, which is REAL):
CREATE TABLE frame (c DOUBLE, d REAL, e REAL)
