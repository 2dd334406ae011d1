insert into ticks by position select 'a', 1.5
-- plans as (DuckDB's default order, said; sqlglot read only BY NAME):
INSERT INTO __indb_stage SELECT 'a', 1.5
