select jaro_winkler_similarity('abc', 'abd', 0.5), jaro_winkler_similarity(a, 'ABC'), time_bucket(interval '1 day', tz, 'Europe/Berlin') from t
-- renders as (DuckDB's calls as written: sqlglot upper-cased jaro_winkler_similarity's strings and dropped its cutoff, and read the time zone's name as a division of columns):
SELECT JARO_WINKLER_SIMILARITY('abc', 'abd', 0.5), JARO_WINKLER_SIMILARITY(a, 'ABC'), TIME_BUCKET(INTERVAL '1' DAY, tz, 'Europe/Berlin') FROM t
