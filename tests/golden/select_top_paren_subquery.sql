SELECT top FROM (SELECT TOP (3) px AS top FROM ticks ORDER BY px)
-- plans as:
SELECT top FROM (SELECT px AS top FROM ticks ORDER BY px LIMIT 3)
