PRAGMA table_info('trades')
-- renders as (a DuckDB PRAGMA that reads: the table function it calls):
SELECT * FROM PRAGMA_TABLE_INFO('trades')
