select to_char(ts, 'YYYY-MM-DD HH24:MI') from t
-- renders as (PostgreSQL's format, as DuckDB's strftime takes it):
SELECT STRFTIME(ts, '%Y-%m-%d %H:%M') FROM t
