select x'303132' in (), 1 not in ()
-- renders as (DuckDB's hex BLOB literal, and an empty IN list, as DuckDB and SQLite read them):
SELECT UNHEX('303132') IN (), NOT 1 IN ()
