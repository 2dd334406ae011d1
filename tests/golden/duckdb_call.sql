CALL pragma_storage_info('trades')
-- renders as (DuckDB's CALL of a table function):
SELECT * FROM PRAGMA_STORAGE_INFO('trades')
