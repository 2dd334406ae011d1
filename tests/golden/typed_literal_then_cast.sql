select timestamp '2008-01-01 00:00:01.5'::varchar, date '1992-01-01'::timestamp_ms, timestamp with time zone '2020-01-01 00:00+00'::date, varchar 'abc'[1:2]
-- renders as (the literal is typed first, then cast: sqlglot cast the text and typed that):
SELECT CAST(CAST('2008-01-01 00:00:01.5' AS TIMESTAMP) AS TEXT), CAST(CAST('1992-01-01' AS DATE) AS TIMESTAMP_MS), CAST(CAST('2020-01-01 00:00+00' AS TIMESTAMPTZ) AS DATE), CAST('abc' AS TEXT)[1:2]
