select to_timestamp(s, 'DD/MM/YYYY'), to_date(s, 'YYYYMMDD') from t
-- renders as (PostgreSQL's formats, as DuckDB's strptime takes them):
SELECT STRPTIME(s, '%d/%m/%Y'), CAST(STRPTIME(s, '%Y%m%d') AS DATE) FROM t
