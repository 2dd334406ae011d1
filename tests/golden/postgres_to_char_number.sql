select to_char(amount, 'FM9,999,990.00'), to_char(ts, 'YYYY') from t
-- renders as (a number's template: the session's function of it, the number as its text and its type's name):
SELECT INDB_TO_CHAR(CAST(amount AS TEXT), 'FM9,999,990.00', TYPEOF(amount)), STRFTIME(ts, '%Y') FROM t
