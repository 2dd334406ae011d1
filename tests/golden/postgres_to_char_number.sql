select to_char(amount, 'FM9,999,990.00'), to_char(ts, 'YYYY'), to_char(ts, '100% YYYY') from t
-- renders as (a number's template: the session's function of it, the number as its text and its type's name; a template with a date's keyword is a date's, though it has a 0):
SELECT INDB_TO_CHAR(CAST(amount AS TEXT), 'FM9,999,990.00', TYPEOF(amount)) AS to_char, PRINTF('%04d', CASE WHEN YEAR(ts) <= 0 THEN 1 - YEAR(ts) ELSE YEAR(ts) END) AS to_char, '100% ' || PRINTF('%04d', CASE WHEN YEAR(ts) <= 0 THEN 1 - YEAR(ts) ELSE YEAR(ts) END) AS to_char FROM t
