create view v as pivot sales on yr in (2024, 2025) using sum(qty) group by sym order by sym
-- renders as (DuckDB's PIVOT statement after CREATE ... AS, as the query it is; sqlglot read the CREATE as a command):
CREATE VIEW v AS SELECT * FROM (PIVOT sales ON yr IN (2024, 2025) USING SUM(qty) GROUP BY sym) ORDER BY sym
