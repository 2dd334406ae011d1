select to_timestamp(s, 'DD/MM/YYYY'), to_date(s, 'FMDD Mon YYYY HH12:MI am') from t
-- renders as (PostgreSQL's templates, as DuckDB's strptime reads them; each column named as PostgreSQL names it):
SELECT STRPTIME(s, '%d/%m/%Y') AS to_timestamp, CAST(STRPTIME(s, '%-d %b %Y %I:%M %p') AS DATE) AS to_date FROM t
