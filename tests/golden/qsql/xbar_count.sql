select n:count i by 0D00:05 xbar time from trade
-- translates to:
SELECT TIME_BUCKET(INTERVAL '300000000' MICROSECONDS, "time") AS "time", COUNT(*) AS "n" FROM "trade" GROUP BY TIME_BUCKET(INTERVAL '300000000' MICROSECONDS, "time") ORDER BY 1 NULLS FIRST
